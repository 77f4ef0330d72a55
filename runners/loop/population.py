"""A population of loops on one task, one selected answer, and its hidden-test verdict."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass

from accord.runners.loop.distinguish import distinguish
from accord.runners.loop.gates import GATES
from accord.runners.loop.members import LoopContext, Member, harness
from accord.runners.loop.rounds import Loop, TestDraws
from accord.runners.loop.selectors import Ballot, choose, is_settled
from accord.runners.loop.transcript import SelectEvent
from accord.runners.tasks.leakage import shows, split
from accord.runners.tasks.load import Task
from accord.space.config import RunConfig

TESTER_TIMEOUT_S = 3.0
"""Per generated assert, when the reference solution is judged against it."""


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
    unseen_passed: bool | None = None
    """An aligned answer on the hidden checks its prompt does not show (None: not
    aligned, or nothing unseen to judge it on): false alignment is measured on these."""
    tests_checked: int = 0
    """Generated asserts checked against the task's reference solution (those that only
    restate a call the prompt shows are left out)."""
    tests_correct: int = 0
    """... and how many of them the reference passes (tester accuracy)."""
    rounds: int
    """Repair rounds taken, summed over the members."""
    members: int
    aligned_members: int = 0
    calls: int = 0
    cost: float = 0.0
    """In the trial's cost unit."""
    seconds: float = 0.0
    stage: int = 0
    """The stage of a cascade that answered (0: the first, or the only one)."""
    stage_costs: tuple[float, ...] = ()
    """What each stage that ran cost, in the trial's cost unit (the tests count in the
    stage that first drew them)."""

    @property
    def falsely_aligned(self) -> bool:
        return self.aligned and self.unseen_passed is False


class Judge:
    """The task's own checks, run in the sandbox like everything else: the hidden tests,
    the hidden checks the prompt does not show, and the reference solution against the
    generated tests."""

    def __init__(self, task: Task, ctx: LoopContext) -> None:
        self.task, self.ctx = task, ctx

    def _passes(self, code: str, program: str) -> bool:
        run = self.ctx.executor.run(
            code, (program,), timeout_s=self.ctx.hidden_timeout_s, **harness(self.task)
        )
        return run.all_passed

    def hidden(self, code: str | None) -> bool | None:
        if self.task.hidden_test is None:
            return None
        return bool(code) and self._passes(code or "", self.task.hidden_test)

    def unseen(self, code: str | None) -> bool | None:
        program = split(self.task).unseen
        return None if program is None or not code else self._passes(code, program)

    def tester(self, members: Sequence[Member]) -> tuple[int, int]:
        """(asserts checked, asserts the reference passes) over the population's tests."""
        if self.task.reference is None:
            return 0, 0
        visible = split(self.task).visible
        tests = [
            t
            for t in dict.fromkeys(t for m in members for t in m.tests)
            if not shows(t, self.task.entry_point, visible)
        ]
        if not tests:
            return 0, 0
        run = self.ctx.executor.run(
            self.task.reference, tests, timeout_s=TESTER_TIMEOUT_S, **harness(self.task)
        )
        return len(tests), sum(run.passed)


@dataclass(frozen=True, slots=True)
class Stage:
    """One stage's population (with pooled candidates of earlier stages) and its pick."""

    members: list[Member]
    ballot: Ballot
    chosen: int | None
    drawn: int
    """Members this stage drew (pooled ones not counted)."""
    rounds: int


def run_stage(
    task: Task, config: RunConfig, ctx: LoopContext, draws: TestDraws, earlier: Sequence[Member] = ()
) -> Stage:
    """A population on one model, selected with the earlier stages' candidates pooled."""
    loop = Loop(task, config, ctx, draws)

    def ballot_of(members: list[Member]) -> Ballot:
        sets = loop.test_sets(members, earlier)
        return Ballot([*earlier, *members], task, ctx.executor, config.test_timeout_s, test_sets=sets)

    settled = (lambda members: is_settled(config.selection, ballot_of(members))) if config.adaptive else None
    own = loop.run(settled)
    ballot = ballot_of(own)
    chosen = choose(config.selection, ballot)
    if config.distinguish and chosen is not None:
        chosen = distinguish(loop, ballot, config.selection, chosen)
    return Stage(list(ballot.members), ballot, chosen, len(own), sum(m.rounds for m in own))


def run_population(task: Task, config: RunConfig, ctx: LoopContext) -> TaskOutcome:
    """The task's population and its answer; a cascade's stages in turn, until one's gate
    passes (the last always answers), its tests drawn once for every stage."""
    start = time.perf_counter()
    # the task's own meter (tasks run side by side): it charges the trial's meter too
    ctx = dataclasses.replace(ctx, meter=ctx.meter.child())
    draws = TestDraws()
    last = len(config.coder.stages) - 1
    costs: list[float] = []
    drawn = rounds = 0
    earlier: list[Member] = []
    for k in range(last + 1):
        stage_ctx = dataclasses.replace(ctx, meter=ctx.meter.child())
        stage = run_stage(task, config.stage(k), stage_ctx, draws, earlier if config.pool else ())
        costs.append(stage_ctx.meter.cost)
        drawn, rounds, earlier = drawn + stage.drawn, rounds + stage.rounds, stage.members
        if k == last or GATES[config.gate](stage.ballot, config.selection, stage.chosen, config.threshold):
            break
    members, chosen = stage.members, stage.chosen
    winner = members[chosen] if chosen is not None else None
    code = winner.code if winner else None
    judge = Judge(task, ctx)
    hidden = judge.hidden(code)
    unseen = judge.unseen(code) if winner and winner.aligned else None
    checked, correct = judge.tester(members)
    outcome = TaskOutcome(
        task_id=task.task_id,
        code=code,
        selected=chosen,
        aligned=bool(winner and winner.aligned),
        tests=winner.tests if winner else (),
        hidden_passed=hidden,
        unseen_passed=unseen,
        tests_checked=checked,
        tests_correct=correct,
        rounds=rounds,
        members=drawn,
        aligned_members=sum(m.aligned for m in members),
        calls=ctx.meter.calls,
        cost=ctx.meter.cost,
        seconds=time.perf_counter() - start,
        stage=k,
        stage_costs=tuple(costs),
    )
    ctx.transcript.write(
        SelectEvent(
            task_id=task.task_id, rule=config.selection.value, selected=chosen, aligned=outcome.aligned,
            hidden_passed=hidden, code=code, aligned_members=outcome.aligned_members,
            calls=outcome.calls, cost=outcome.cost, seconds=round(outcome.seconds, 3), cascade_stage=k,
        )
    )  # fmt: skip
    return outcome
