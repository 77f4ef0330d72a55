"""A population of loops on one task, one selected answer, and its hidden-test verdict."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from accord.runners import selection
from accord.runners.loop import LoopContext, Member, run_member
from accord.runners.tasks import Task
from accord.space.config import SINGLE, RunConfig

HIDDEN_TIMEOUT_S = 20.0
MAX_PARALLEL_MEMBERS = 16


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskOutcome:
    task_id: str
    code: str | None
    """The selected candidate (None: no member produced usable code)."""
    selected: int | None
    aligned: bool
    hidden_passed: bool | None
    """None when the task has no hidden tests."""
    rounds: int
    members: int
    error: str = ""

    @property
    def falsely_aligned(self) -> bool:
        return self.aligned and self.hidden_passed is False


def _select(rule: str, members: list[Member], ctx: LoopContext, config: RunConfig) -> int | None:
    if rule == SINGLE:
        return 0 if members[0].code is not None else None
    if rule == "first_aligned":
        return selection.first_aligned([m.aligned for m in members], [m.own_pass_fraction for m in members])
    # majority: every candidate against every generated test of the population
    union = tuple(dict.fromkeys(t for m in members for t in m.tests))
    coded = [m for m in members if m.code]
    results = iter(
        ctx.executor.run_many([(m.code or "", union) for m in coded], timeout_s=config.test_timeout_s)
    )
    vectors = [next(results).passed if m.code else None for m in members]
    return selection.majority(vectors)


def run_population(task: Task, config: RunConfig, ctx: LoopContext) -> TaskOutcome:
    if config.population == 1:
        members = [run_member(task, config, ctx, 0)]
    else:  # members wait on models and the sandbox: run them side by side
        with ThreadPoolExecutor(max_workers=min(config.population, MAX_PARALLEL_MEMBERS)) as pool:
            members = list(
                pool.map(lambda index: run_member(task, config, ctx, index), range(config.population))
            )
    chosen = _select(config.selection, members, ctx, config)
    winner = members[chosen] if chosen is not None else None
    code = winner.code if winner else None
    hidden: bool | None = None
    if task.hidden_test is not None:
        hidden = (
            bool(code)
            and ctx.executor.run(code or "", (task.hidden_test,), timeout_s=HIDDEN_TIMEOUT_S).all_passed
        )
    outcome = TaskOutcome(
        task_id=task.task_id,
        code=code,
        selected=chosen,
        aligned=bool(winner and winner.aligned),
        hidden_passed=hidden,
        rounds=sum(m.rounds for m in members),
        members=len(members),
    )
    ctx.transcript.append(
        {
            "task_id": task.task_id, "stage": "select", "rule": config.selection, "selected": chosen,
            "aligned": outcome.aligned, "hidden_passed": hidden, "code": code,
        }
    )  # fmt: skip
    return outcome
