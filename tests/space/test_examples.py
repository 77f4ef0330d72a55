"""The few-shot examples are no benchmark's tasks: a worked example that is a task of the
set being scored would leak its answer."""

from __future__ import annotations

import ast
import re

import pytest

from accord.runners.tasks.load import load_tasks
from accord.space.templates import load_examples
from tests.helpers import SHARED_DATA


def normalised(code: str) -> str:
    """A solution with its names and layout gone: the shape of its syntax tree."""
    tree = ast.parse(code)
    for node in ast.walk(tree):
        for field in ("id", "name", "arg", "attr"):
            if isinstance(getattr(node, field, None), str):
                setattr(node, field, "_")
    return ast.dump(tree, annotate_fields=False)


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]{4,}", text.lower()))


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="needs ../shared/data")
def test_examples_are_disjoint_from_every_bundled_task_set() -> None:
    tasks = [
        t
        for source in ("humaneval", "humanevalplus", "mbpp")
        for t in load_tasks(source, data_dir=SHARED_DATA)
    ]
    names = {t.entry_point for t in tasks}
    solutions = {normalised(t.reference) for t in tasks if t.reference}
    examples = load_examples()
    assert len(examples) >= 4
    for example in examples:
        (function,) = [n for n in ast.parse(example.prompt).body if isinstance(n, ast.FunctionDef)]
        assert function.name not in names, function.name
        assert normalised(example.solution) not in solutions, function.name
        # no task's description is the example's, nearly word for word
        mine = words(ast.get_docstring(function) or "")
        for task in tasks:
            theirs = words(task.prompt)
            assert len(mine & theirs) < 0.8 * len(mine), (function.name, task.task_id)
