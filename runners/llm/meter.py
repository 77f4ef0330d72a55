"""What a trial spends, in the study's cost unit, against an optional cap."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from accord.runners.llm.records import Completion
from accord.space.errors import BudgetExceeded

COST_UNITS: dict[str, Callable[[Completion], float]] = {
    "usd": lambda completion: completion.cost_usd,
    "tokens": lambda completion: float(completion.tokens),
    "seconds": lambda completion: completion.seconds,
}
"""What a call costs in each unit a study may count in (objectives.cost)."""


@dataclass(slots=True)
class Meter:
    unit: str = "usd"
    cap: float | None = None
    """On everything spent, measurement included: a cap protects the budget."""
    cost: float = 0.0
    """What the configuration costs: the calls that can change its answers."""
    measure_cost: float = 0.0
    """Calls made only to measure (alignment of a lone sample): paid, not in the objective."""
    spent_usd: float = 0.0
    """What was actually paid: cache hits are free."""
    paid: float = 0.0
    """What was actually paid, in the meter's unit: the calls no cache answered."""
    calls: int = 0
    cache_hits: int = 0
    estimated_calls: int = 0
    """Calls whose token counts the provider did not report (estimated with a tokenizer)."""
    unpriced_calls: int = 0
    """Calls nothing priced: in USD they count 0, which undercounts the cost."""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    by_role: dict[str, float] = field(default_factory=dict)
    by_stage: dict[str, float] = field(default_factory=dict)
    tokens_by_role: dict[str, int] = field(default_factory=dict)
    parent: Meter | None = field(default=None, repr=False, compare=False)
    """A task's own meter charges its trial's too; the trial's cap decides admission."""
    in_flight: int = 0
    reserved: float = 0.0
    """What the calls in flight are expected to cost (under a cap): the mean call so far each."""
    _lock: threading.Condition = field(default_factory=threading.Condition, repr=False, compare=False)

    def amount(self, completion: Completion) -> float:
        return COST_UNITS[self.unit](completion)

    @property
    def total(self) -> float:
        return self.cost + self.measure_cost

    def child(self) -> Meter:
        """A meter of one part (a task) of what this one meters (a trial)."""
        return Meter(unit=self.unit, parent=self)

    @contextlib.contextmanager
    def admission(self) -> Iterator[None]:
        """Hold one call in flight, or refuse it (BudgetExceeded) once the cap is reached.

        One at a time, a call is refused when what was spent reaches the cap. With calls in
        flight side by side, each counts as the mean call so far until it is charged, so a
        cap is overshot by about one call, not by every call sent at once; until the first
        call has a price, the others wait for it. Without a cap nothing waits. A child
        meter's calls are admitted by its parent's cap."""
        if self.parent is not None:
            with self.parent.admission():
                yield
            return
        with self._lock:
            if self.cap is not None:
                while self.calls == 0 and self.in_flight > 0:
                    self._lock.wait()
            if self.cap is not None and self.total + self.reserved >= self.cap:
                raise BudgetExceeded(f"cost cap of {self.cap:g} {self.unit} reached")
            estimate = self.total / self.calls if self.cap is not None and self.calls else 0.0
            self.in_flight += 1
            self.reserved += estimate
        try:
            yield
        finally:
            with self._lock:
                self.in_flight -= 1
                self.reserved -= estimate
                self._lock.notify_all()

    def charge(self, completion: Completion, role: str, stage: str = "", *, measure: bool = False) -> None:
        with self._lock:
            self._charge(completion, role, stage or role, measure)
        if self.parent is not None:
            self.parent.charge(completion, role, stage, measure=measure)

    def _charge(self, completion: Completion, role: str, stage: str, measure: bool) -> None:
        amount = self.amount(completion)
        if measure:
            self.measure_cost += amount
        else:
            self.cost += amount
        self.by_role[role] = self.by_role.get(role, 0.0) + amount
        self.by_stage[stage] = self.by_stage.get(stage, 0.0) + amount
        self.tokens_by_role[role] = self.tokens_by_role.get(role, 0) + completion.tokens
        self.calls += 1
        self.cache_hits += completion.cached
        self.estimated_calls += completion.estimated
        self.unpriced_calls += completion.unpriced
        self.spent_usd += 0.0 if completion.cached else completion.cost_usd
        self.paid += 0.0 if completion.cached else amount
        self.prompt_tokens += completion.prompt_tokens
        self.completion_tokens += completion.completion_tokens
        self.seconds += completion.seconds
