"""Run one configuration over a task set and score it. Knows nothing about Optuna."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass

from accord.runners.llm import Meter
from accord.runners.loop.members import LoopContext
from accord.runners.loop.population import TaskOutcome, run_population
from accord.runners.tasks.load import Task
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


@dataclass(frozen=True, slots=True, kw_only=True)
class StageFigures:
    """What one stage of a cascade did over a run's tasks."""

    model: str
    answered: int
    """Tasks this stage answered (its gate passed, or it was the last)."""
    cost: float
    """What the stage cost over every task that reached it."""
    passed: int
    """Of the tasks it answered, those counted as passed."""
    reached: int
    """Tasks that reached this stage."""


def stage_figures(
    outcomes: Sequence[TaskOutcome], stages: Sequence[str], pass_source: str
) -> tuple[StageFigures, ...]:
    """Per stage of a cascade: the tasks it answered, its cost, and how many of its
    answers passed."""
    return tuple(
        StageFigures(
            model=model,
            answered=sum(o.stage == k for o in outcomes),
            cost=sum(o.stage_costs[k] for o in outcomes if len(o.stage_costs) > k),
            passed=sum(o.stage == k and counts(o, pass_source) for o in outcomes),
            reached=sum(o.stage >= k for o in outcomes),
        )
        for k, model in enumerate(stages)
    )


def gate_precision(figures: Sequence[StageFigures]) -> float | None:
    """Of the tasks a gate stopped (answered before the last stage), the share passed
    (None: no gate stopped any)."""
    stopped = figures[:-1]
    answered = sum(f.answered for f in stopped)
    return sum(f.passed for f in stopped) / answered if answered else None


def run_config(
    tasks: Sequence[Task],
    config: RunConfig,
    ctx: LoopContext,
    *,
    pass_source: str,
    on_task: Callable[[TaskOutcome], None] | None = None,
    rungs: Sequence[int] = (),
    keep_going: Callable[[RunResult], str] | None = None,
) -> RunResult:
    """Run ``config`` on every task, ``ctx.tasks_in_flight`` tasks at a time (results do
    not depend on it: every call's sample index is fixed by its member and round). With
    ``rungs`` (task counts), the tasks run in those steps, in order, and after each step
    short of the last ``keep_going`` sees the partial result and may stop the run by
    giving a reason."""
    start = time.perf_counter()
    done: dict[int, TaskOutcome] = {}
    stopped = ""
    bounds = [b for b in sorted(set(rungs)) if 0 < b < len(tasks)] + [len(tasks)]
    first = 0
    for bound in bounds:
        stopped = _run_tasks(tasks, range(first, bound), config, ctx, done, on_task)
        first = bound
        if stopped or bound == len(tasks):
            break
        reason = keep_going(_result(tasks[:bound], done, ctx, pass_source, start, "")) if keep_going else ""
        if reason:
            stopped = reason
            break
    return _result(tasks, done, ctx, pass_source, start, stopped)


def _run_tasks(
    tasks: Sequence[Task],
    indices: range,
    config: RunConfig,
    ctx: LoopContext,
    done: dict[int, TaskOutcome],
    on_task: Callable[[TaskOutcome], None] | None,
) -> str:
    """Run ``tasks[indices]`` side by side into ``done``; a reason when a budget stopped them."""
    halt = threading.Event()

    def one(index: int) -> TaskOutcome | None:
        if halt.is_set():
            return None
        return run_population(tasks[index], config, ctx)

    stopped = ""
    pool = ThreadPoolExecutor(max_workers=max(1, min(ctx.tasks_in_flight, len(indices))))
    try:
        futures = {pool.submit(one, index): index for index in indices}
        for future in as_completed(futures):
            try:
                outcome = future.result()
            except BudgetExceeded as exc:
                halt.set()  # no task starts after the cap; those in flight stop at their next call
                stopped = f"budget: {exc}"
                continue
            if outcome is not None:
                done[futures[future]] = outcome
                if on_task is not None:
                    on_task(outcome)
    except BaseException:
        # interrupted (Ctrl-C, SIGTERM): nothing more starts, and nobody waits for the
        # calls in flight; the process that gave up on them exits without them
        halt.set()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return stopped


def _result(
    tasks: Sequence[Task],
    done: dict[int, TaskOutcome],
    ctx: LoopContext,
    pass_source: str,
    start: float,
    stopped: str,
) -> RunResult:
    outcomes = [done[i] for i in range(len(tasks)) if i in done]
    pass_rate, alignment_rate, false_rate, accuracy = score(outcomes, len(tasks), pass_source)
    passed = [i in done and counts(done[i], pass_source) for i in range(len(tasks))]
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
