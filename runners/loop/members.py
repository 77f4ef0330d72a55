"""A population's members and what their loops need from outside: the context a
trial injects, a member while its loop runs and once it is done, and the helpers that
run independent work side by side."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from accord.runners.llm import Gateway, Meter
from accord.runners.loop.transcript import NullTranscript, Transcript
from accord.runners.sandbox import ExecResult, Executor
from accord.runners.tasks.extract import expected_constants
from accord.runners.tasks.load import Task
from accord.space.templates import Example, PromptLibrary, load_examples

MAX_PARALLEL_MEMBERS = 16
TASKS_IN_FLIGHT = 32
HIDDEN_TIMEOUT_S = 10.0
"""Default time-out of one task's hidden-test check (the study file's tasks.hidden_timeout_s)."""
T = TypeVar("T")
U = TypeVar("U")


@dataclass(frozen=True, slots=True)
class Context:
    """Text added to the code prompt and to the tests prompt (``$context``)."""

    code: str = ""
    tests: str = ""


@dataclass(slots=True, kw_only=True)
class LoopContext:
    """What a loop needs from outside: injected, never looked up."""

    gateway: Gateway
    executor: Executor
    prompts: PromptLibrary
    meter: Meter
    transcript: Transcript = field(default_factory=NullTranscript)
    examples: tuple[Example, ...] = field(default_factory=load_examples)
    hidden_timeout_s: float = HIDDEN_TIMEOUT_S
    """Time-out of a hidden-test evaluation (the whole check of one task)."""
    draw: int = 0
    """Which repeat of the run (0 for the search; ``accord confirm --repeats`` uses more)."""
    tasks_in_flight: int = TASKS_IN_FLIGHT
    """Tasks run side by side (the models' own limits bound their calls)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Member:
    index: int
    model: str
    """The coder model this member used (ensembles take turns)."""
    code: str | None
    tests: tuple[str, ...]
    tests_valid: bool
    """Enough asserts, and trivial stubs fail some of them."""
    result: ExecResult | None
    aligned: bool
    rounds: int

    @property
    def own_pass_fraction(self) -> float | None:
        if self.code is None or self.result is None or not self.result.outcomes:
            return None
        return sum(self.result.passed) / len(self.result.outcomes)


@dataclass(slots=True)
class MemberState:
    """A member while its loop runs."""

    index: int
    code: str | None = None
    tests: tuple[str, ...] = ()
    valid: bool = False
    result: ExecResult | None = None
    aligned: bool = False
    rounds: int = 0
    context: Context = field(default_factory=Context)
    mismatch: str = ""
    """Why the self-explanation check rejected the current code ("" when it did not)."""
    explained: str | None = None
    """The code the self-explanation check last accepted."""


def harness(task: Task) -> dict[str, str]:
    """How the sandbox runs tests of ``task``: against its entry point, with its preamble."""
    return {"entry_point": task.entry_point, "preamble": task.preamble}


def stubs(entry_point: str, tests: Sequence[str] = ()) -> tuple[str, ...]:
    """Trivial implementations a meaningful test set must reject: returning None, the
    first argument, or always the same value one of its asserts expects."""
    constants = [
        f"def {entry_point}(*args, **kwargs):\n    return {value}\n"
        for value in expected_constants(tests, entry_point)
    ]
    return (
        f"def {entry_point}(*args, **kwargs):\n    return None\n",
        f"def {entry_point}(*args, **kwargs):\n    return args[0] if args else None\n",
        *constants,
    )


def both(first: Callable[[], T], second: Callable[[], U]) -> tuple[T, U]:
    """Two independent calls side by side (the second on a thread of its own)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        later = pool.submit(second)
        return first(), later.result()


def each(fn: Callable[[T], object], items: Sequence[T]) -> None:
    """``fn`` on every item, side by side (members wait on models and the sandbox)."""
    if len(items) <= 1:
        for item in items:
            fn(item)
        return
    with ThreadPoolExecutor(max_workers=min(len(items), MAX_PARALLEL_MEMBERS)) as pool:
        list(pool.map(fn, items))
