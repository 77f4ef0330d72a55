"""A population of loops on one task, one selected answer, and its hidden-test verdict."""

from __future__ import annotations

import time
from dataclasses import dataclass

from accord.runners.loop import LoopContext, harness, run_loops
from accord.runners.selectors import SELECTORS, Ballot
from accord.runners.tasks import Task
from accord.runners.transcript import SelectEvent
from accord.space.config import RunConfig


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskOutcome:
    task_id: str
    code: str | None
    """The selected candidate (None: no member produced usable code)."""
    selected: int | None
    aligned: bool
    tests: tuple[str, ...] = ()
    """The selected member's own tests."""
    hidden_passed: bool | None
    """None when the task has no hidden tests."""
    rounds: int
    """Repair rounds taken, summed over the members."""
    members: int
    aligned_members: int = 0
    calls: int = 0
    cost: float = 0.0
    """In the trial's cost unit."""
    seconds: float = 0.0

    @property
    def falsely_aligned(self) -> bool:
        return self.aligned and self.hidden_passed is False


def run_population(task: Task, config: RunConfig, ctx: LoopContext) -> TaskOutcome:
    start, calls, cost = time.perf_counter(), ctx.meter.calls, ctx.meter.cost
    members = run_loops(task, config, ctx)
    ballot = Ballot(members, task, ctx.executor, config.test_timeout_s)
    chosen = SELECTORS[config.selection](ballot)
    winner = members[chosen] if chosen is not None else None
    code = winner.code if winner else None
    hidden: bool | None = None
    if task.hidden_test is not None and code:
        check = ctx.executor.run(code, (task.hidden_test,), timeout_s=ctx.hidden_timeout_s, **harness(task))
        hidden = check.all_passed
    elif task.hidden_test is not None:
        hidden = False
    outcome = TaskOutcome(
        task_id=task.task_id,
        code=code,
        selected=chosen,
        aligned=bool(winner and winner.aligned),
        tests=winner.tests if winner else (),
        hidden_passed=hidden,
        rounds=sum(m.rounds for m in members),
        members=len(members),
        aligned_members=sum(m.aligned for m in members),
        calls=ctx.meter.calls - calls,
        cost=ctx.meter.cost - cost,
        seconds=time.perf_counter() - start,
    )
    ctx.transcript.write(
        SelectEvent(
            task_id=task.task_id, rule=config.selection.value, selected=chosen, aligned=outcome.aligned,
            hidden_passed=hidden, code=code, aligned_members=outcome.aligned_members,
            calls=outcome.calls, cost=outcome.cost, seconds=round(outcome.seconds, 3),
        )
    )  # fmt: skip
    return outcome
