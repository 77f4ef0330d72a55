"""What a strategy may ask of its task's loop: a role's answer, a run of code against
tests in the sandbox, and what the loop knows (the task, the configuration, the context a
trial injected). Techniques, repairs and distinguishing inputs take a ``Service``, never
the Loop itself (which is one)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from accord.runners.loop.members import LoopContext, MemberState
from accord.runners.sandbox import ExecResult
from accord.runners.tasks import Task
from accord.space.config import Role, RunConfig


class Service(Protocol):
    @property
    def task(self) -> Task: ...
    @property
    def config(self) -> RunConfig: ...
    @property
    def ctx(self) -> LoopContext: ...
    @property
    def planner_template(self) -> str: ...

    def ask(self, stage: str, template: str, role: Role, member: int, sample: int, **extra: str) -> str:
        """``role``'s answer to ``stage``'s template for ``member`` (its model: an
        ensemble's turn), as sample ``sample``."""
        ...

    def execute(self, jobs: Sequence[tuple[str, Sequence[str]]]) -> list[ExecResult]:
        """Each (code, tests) in the sandbox, against the task's entry point."""
        ...

    def write_tests(self, s: MemberState, sample: int) -> tuple[str, ...]: ...
    def fix(self, s: MemberState, sample: int, failures: str, reflection: str = "") -> str | None: ...
    def reflect(self, s: MemberState, sample: int, failures: str) -> str: ...
