"""Selection strategies: one function per value of ``selection.rule`` (space/methods.py
declares the values). Each gets the task's ballot, whose executions run only when a rule
asks for them, and returns the index of the chosen member (None: no member has code).
The rules themselves are pure functions on vectors, in runners/selection.py.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from accord.runners import selection
from accord.runners.extract import imported_names, probes
from accord.runners.loop import Member, harness
from accord.runners.sandbox import ExecResult, Executor
from accord.runners.tasks import Task
from accord.space.methods import SelectionRule


@dataclass(frozen=True)
class Ballot:
    """A task's population at selection time, with the executions rules vote on."""

    members: Sequence[Member]
    task: Task
    executor: Executor
    timeout_s: float

    def _run(self, tests: tuple[str, ...]) -> list[ExecResult | None]:
        coded = [m for m in self.members if m.code]
        jobs = [(m.code or "", tests) for m in coded]
        runs = iter(self.executor.run_many(jobs, timeout_s=self.timeout_s, **harness(self.task)))
        return [next(runs) if m.code else None for m in self.members]

    @functools.cached_property
    def union(self) -> tuple[str, ...]:
        """Every generated test of the population, once."""
        return tuple(dict.fromkeys(t for m in self.members for t in m.tests))

    @functools.cached_property
    def multiplicity(self) -> list[int]:
        """Per test of the union, how many members' test sets hold it (CodeT counts a test
        once per sample that wrote it)."""
        return [sum(test in m.tests for m in self.members) for test in self.union]

    @functools.cached_property
    def pass_vectors(self) -> list[tuple[bool, ...] | None]:
        """Per member, which tests of the union its code passes (None: no code)."""
        return [r.passed if r else None for r in self._run(self.union)]

    @functools.cached_property
    def signatures(self) -> list[tuple[tuple[str, str], ...] | None]:
        """Per member, its outputs on every call found in the generated tests."""
        inputs = probes(self.union, self.task.entry_point, imported_names(self.task.prompt))
        return [
            tuple((o.status.value, o.error) for o in r.outcomes) if r else None for r in self._run(inputs)
        ]


Selector = Callable[[Ballot], int | None]


def choose(rule: SelectionRule, ballot: Ballot) -> int | None:
    """The rule's pick; when the rule finds nothing to choose between (no member aligned
    or passed anything), the first member with code: a population with code always
    answers."""
    chosen = SELECTORS[rule](ballot)
    if chosen is None:
        chosen = next((m.index for m in ballot.members if m.code), None)
    return chosen


def single(ballot: Ballot) -> int | None:
    return 0 if ballot.members[0].code is not None else None


def majority(ballot: Ballot) -> int | None:
    return selection.majority(ballot.signatures, [m.code for m in ballot.members])


def dual_agreement(ballot: Ballot) -> int | None:
    return selection.dual_agreement(ballot.pass_vectors, ballot.multiplicity)


def dual_agreement_linear(ballot: Ballot) -> int | None:
    group = selection.dual_agreement_group(ballot.pass_vectors, ballot.multiplicity, size_weight=float)
    return group[0] if group else None


def first_aligned(ballot: Ballot) -> int | None:
    members = ballot.members
    return selection.first_aligned([m.aligned for m in members], [m.own_pass_fraction for m in members])


def most_passed(ballot: Ballot) -> int | None:
    return selection.most_passed(ballot.pass_vectors)


SELECTORS: Mapping[SelectionRule, Selector] = {
    SelectionRule.SINGLE: single,
    SelectionRule.MAJORITY: majority,
    SelectionRule.DUAL_AGREEMENT: dual_agreement,
    SelectionRule.DUAL_AGREEMENT_LINEAR: dual_agreement_linear,
    SelectionRule.FIRST_ALIGNED: first_aligned,
    SelectionRule.MOST_PASSED: most_passed,
}
