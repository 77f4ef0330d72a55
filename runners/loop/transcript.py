"""The transcript of a run: typed events, written as they happen.

Three kinds of event: a model call, a population's execution round, and a task's
selection. Each is a frozen record; a Transcript receives them from many threads. The
JSONL form (one object per line, with its ``stage``) is what a trial's artifact holds:
``JsonlTranscript`` writes it to a file as the run goes, ``MemoryTranscript`` keeps the
records for tests and benchmarks.
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol


@dataclass(frozen=True, slots=True, kw_only=True)
class CallEvent:
    """One model call (cached or not)."""

    kind: ClassVar[str] = "call"
    task_id: str
    member: int
    stage: str
    """code, tests, repair, reflect, plan, spec, explain or check."""
    role: str
    model: str
    sample: int
    messages: tuple[dict[str, str], ...]
    response: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    seconds: float
    cached: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecuteEvent:
    """A member's state after one round: its code run against its own tests."""

    kind: ClassVar[str] = "execute"
    task_id: str
    member: int
    round: int
    tests_valid: bool
    aligned: bool
    code: str | None
    tests: tuple[str, ...]
    outcomes: tuple[tuple[str, str], ...] | None
    """(status, error) per test; None when the member had no code or no tests."""
    explanation_mismatch: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SelectEvent:
    """The answer a task's population selected, and its hidden verdict."""

    kind: ClassVar[str] = "select"
    task_id: str
    rule: str
    selected: int | None
    aligned: bool
    hidden_passed: bool | None
    code: str | None
    aligned_members: int
    calls: int
    cost: float
    seconds: float
    cascade_stage: int = 0
    """The stage of a cascade that answered (0: the first, or the only one)."""


Event = CallEvent | ExecuteEvent | SelectEvent


def to_json(event: Event) -> dict[str, Any]:
    """The artifact's form of an event: its kind (call, execute, select) and its fields."""
    return {"kind": event.kind, **asdict(event)}


class Transcript(Protocol):
    def write(self, event: Event) -> None: ...


class NullTranscript:
    """Keeps nothing (``accord solve``, benchmarks that need no transcript)."""

    def write(self, event: Event) -> None:
        pass


class MemoryTranscript:
    """Keeps every event, in order, for tests and benchmarks."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._lock = threading.Lock()

    def write(self, event: Event) -> None:
        with self._lock:
            self.events.append(event)

    def of(self, kind: type[Event], task_id: str | None = None) -> list[Any]:
        """The events of one kind (of one task)."""
        with self._lock:
            return [
                e for e in self.events if isinstance(e, kind) and (task_id is None or e.task_id == task_id)
            ]


class JsonlTranscript:
    """Appends each event to a JSONL file as it happens (the trial's artifact)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()

    def write(self, event: Event) -> None:
        line = json.dumps(to_json(event)) + "\n"
        with self._lock:
            self._handle.write(line)
            self._handle.flush()

    def close(self) -> None:
        with self._lock:
            self._handle.close()

    def __enter__(self) -> JsonlTranscript:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
