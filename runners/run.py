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
    false_alignment_rate: float | None
    """Among tasks whose answer aligned, the share that fails the hidden checks its prompt
    does not show (None: no aligned answer could be judged)."""
    tester_accuracy: float | None = None
    """Share of the generated asserts (those not restating the prompt's examples) that the
    task's reference solution passes (None: no reference, or no such assert)."""
    passed: tuple[bool, ...] = ()
    """Per task of the run, in order: counted as passed (unreached tasks: False)."""
    cost: float
    """In the meter's unit: what the configuration costs, cache hits included."""
    meter: Meter
    seconds: float
    stopped: str = ""
    """Why the run ended early ("" when it ran every task)."""


def counts(outcome: TaskOutcome, pass_source: str) -> bool:
    """Whether a task counts as passed: its hidden tests, or alignment without them."""
    return bool(outcome.hidden_passed) if pass_source == "hidden" else outcome.aligned


def score(
    outcomes: Sequence[TaskOutcome], n_tasks: int, pass_source: str
) -> tuple[float, float, float | None, float | None]:
    """(pass rate, alignment rate, false-alignment rate, tester accuracy) over ``n_tasks``;
    the last two are None when there is nothing to measure them on."""
    if pass_source not in PASS_SOURCES:
        raise ValueError(f"pass source must be one of {PASS_SOURCES}")
    aligned = [o for o in outcomes if o.aligned]
    passed = sum(counts(o, pass_source) for o in outcomes)
    judged = [o for o in aligned if o.unseen_passed is not None]
    false_rate = sum(o.falsely_aligned for o in judged) / len(judged) if judged else None
    checked = sum(o.tests_checked for o in outcomes)
    accuracy = sum(o.tests_correct for o in outcomes) / checked if checked else None
    return passed / n_tasks, len(aligned) / n_tasks, false_rate, accuracy


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
    pass_rate, alignment_rate, false_rate, accuracy = score(outcomes, len(tasks), pass_source)
    passed = [counts(o, pass_source) for o in outcomes] + [False] * (len(tasks) - len(outcomes))
    return RunResult(
        outcomes=tuple(outcomes),
        n_tasks=len(tasks),
        pass_rate=pass_rate,
        alignment_rate=alignment_rate,
        false_alignment_rate=false_rate,
        tester_accuracy=accuracy,
        passed=tuple(passed),
        cost=ctx.meter.cost,
        meter=ctx.meter,
        seconds=time.perf_counter() - start,
        stopped=stopped,
    )
