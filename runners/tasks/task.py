"""A task: what the models are asked, and the checks they never see."""

from __future__ import annotations

import ast
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class Task:
    task_id: str
    prompt: str
    """What the models see: a signature with docstring, or a plain-language description."""
    entry_point: str
    hidden_test: str | None = None
    """A program that raises if the function named ``candidate`` is wrong, or None."""
    reference: str | None = None
    """The data set's own solution, for checking the set; never shown to a model."""

    @property
    def has_hidden_tests(self) -> bool:
        return self.hidden_test is not None

    @property
    def preamble(self) -> str:
        """What the tests see besides the candidate's entry point: the prompt, when it is
        Python (its imports and helper functions, e.g. HumanEval/38's encode_cyclic); the
        task's own text, never the candidate's code."""
        try:
            ast.parse(self.prompt)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return ""
        return self.prompt
