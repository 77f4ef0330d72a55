"""Run one configuration over a task set and score it. Knows nothing about Optuna."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from accord.runners.llm import Meter
from accord.runners.loop import LoopContext
from accord.runners.population import TaskOutcome, run_population
from accord.runners.tasks import Task
from accord.space.config import RunConfig
from accord.space.errors import BudgetExceeded

PASS_SOURCES = ("hidden", "alignment")


@dataclass(frozen=True, slots=True, kw_only=True)
class RunResult:
    outcomes: tuple[TaskOutcome, ...]
    n_tasks: int
    pass_rate: float
    """Share of all tasks passed: hidden tests, or alignment when the source says so.
    Tasks not reached (budget) count as failed."""
    alignment_rate: float
    false_alignment_rate: float
    """Among tasks whose answer aligned, the share that fails the hidden tests."""
    cost: float
    """In the meter's unit: what the configuration costs, cache hits included."""
    meter: Meter
    seconds: float
    stopped: str = ""
    """Why the run ended early ("" when it ran every task)."""


def score(outcomes: Sequence[TaskOutcome], n_tasks: int, pass_source: str) -> tuple[float, float, float]:
    """(pass rate, alignment rate, false-alignment rate) over ``n_tasks``."""
    if pass_source not in PASS_SOURCES:
        raise ValueError(f"pass source must be one of {PASS_SOURCES}")
    aligned = [o for o in outcomes if o.aligned]
    passed = sum(bool(o.hidden_passed) for o in outcomes) if pass_source == "hidden" else len(aligned)
    judged = [o for o in aligned if o.hidden_passed is not None]
    false_rate = sum(o.falsely_aligned for o in judged) / len(judged) if judged else 0.0
    return passed / n_tasks, len(aligned) / n_tasks, false_rate


def run_config(
    tasks: Sequence[Task],
    config: RunConfig,
    ctx: LoopContext,
    *,
    pass_source: str,
    on_task: Callable[[TaskOutcome], None] | None = None,
) -> RunResult:
    start = time.perf_counter()
    outcomes: list[TaskOutcome] = []
    stopped = ""
    for task in tasks:
        try:
            outcome = run_population(task, config, ctx)
        except BudgetExceeded as exc:
            stopped = f"budget: {exc}"
            break
        outcomes.append(outcome)
        if on_task is not None:
            on_task(outcome)
    pass_rate, alignment_rate, false_rate = score(outcomes, len(tasks), pass_source)
    return RunResult(
        outcomes=tuple(outcomes),
        n_tasks=len(tasks),
        pass_rate=pass_rate,
        alignment_rate=alignment_rate,
        false_alignment_rate=false_rate,
        cost=ctx.meter.cost,
        meter=ctx.meter,
        seconds=time.perf_counter() - start,
        stopped=stopped,
    )
