"""Selection strategies: one function per value of ``selection.rule`` (space/methods.py
declares the values). Each gets the task's ballot, whose executions run only when a rule
asks for them, and returns the index of the chosen member (None: no member has code).
The rules themselves are pure functions on vectors, in runners/loop/rules.py.
"""

from __future__ import annotations

import ast
import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from accord.runners.loop import rules as selection
from accord.runners.loop.members import Member, harness
from accord.runners.sandbox import ExecResult, Executor
from accord.runners.tasks.extract import imported_names, probes
from accord.runners.tasks.load import Task
from accord.space.methods import SelectionRule


@dataclass(frozen=True)
class Ballot:
    """A task's population at selection time, with the executions rules vote on."""

    members: Sequence[Member]
    task: Task
    executor: Executor
    timeout_s: float
    test_sets: Sequence[tuple[str, ...]] | None = None
    """The test samples pooled for the vote, each once (default: each member's own)."""

    def _run(self, tests: tuple[str, ...]) -> list[ExecResult | None]:
        """Each member's code against ``tests``; codes that differ only in layout and
        comments run once, and every member holding one gets its result."""
        keys = [normalized(m.code) if m.code else None for m in self.members]
        distinct = list(dict.fromkeys(k for k in keys if k is not None))
        code_of = {normalized(m.code): m.code for m in reversed(self.members) if m.code}
        jobs = [(code_of[key] or "", tests) for key in distinct]
        results = dict(
            zip(
                distinct,
                self.executor.run_many(jobs, timeout_s=self.timeout_s, **harness(self.task)),
                strict=True,
            )
        )
        return [results[k] if k is not None else None for k in keys]

    @property
    def samples(self) -> Sequence[tuple[str, ...]]:
        return self.test_sets if self.test_sets is not None else [m.tests for m in self.members]

    @functools.cached_property
    def union(self) -> tuple[str, ...]:
        """Every generated test of the population, once."""
        return tuple(dict.fromkeys(t for tests in self.samples for t in tests))

    @functools.cached_property
    def multiplicity(self) -> list[int]:
        """Per test of the union, how many test samples hold it (CodeT counts a test once
        per sample that wrote it)."""
        return [sum(test in tests for tests in self.samples) for test in self.union]

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


def normalized(code: str) -> str:
    """The code with its layout and comments normalised (Python's own unparse of its
    syntax tree); as written when it does not parse."""
    try:
        return ast.unparse(ast.parse(code))
    except (SyntaxError, ValueError, RecursionError):
        return code


Selector = Callable[[Ballot], int | None]


def choose(rule: SelectionRule, ballot: Ballot) -> int | None:
    """The rule's pick; when the rule finds nothing to choose between (no member aligned
    or passed anything), the first member with code: a population with code always
    answers."""
    chosen = SELECTORS[rule](ballot)
    if chosen is None:
        chosen = next((i for i, m in enumerate(ballot.members) if m.code), None)
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


def clusters(ballot: Ballot) -> int | None:
    return selection.clusters(ballot.signatures, ballot.pass_vectors, ballot.multiplicity)


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
    SelectionRule.CLUSTERS: clusters,
    SelectionRule.FIRST_ALIGNED: first_aligned,
    SelectionRule.MOST_PASSED: most_passed,
}


def _majority_ranking(ballot: Ballot) -> list[list[int]]:
    groups = list(selection.groups(selection.shown_signatures(ballot.signatures)).values())
    if not groups:  # no probes: the most common code, as written
        groups = list(selection.groups(selection.as_written([m.code for m in ballot.members])).values())
    return selection.size_ranking(groups)


def _dual_ranking(size_weight: Callable[[int], float]) -> Callable[[Ballot], list[list[int]]]:
    def rank(ballot: Ballot) -> list[list[int]]:
        return selection.dual_agreement_ranking(ballot.pass_vectors, ballot.multiplicity, size_weight)

    return rank


RANKINGS: Mapping[SelectionRule, Callable[[Ballot], list[list[int]]]] = {
    SelectionRule.MAJORITY: _majority_ranking,
    SelectionRule.DUAL_AGREEMENT: _dual_ranking(math.sqrt),
    SelectionRule.DUAL_AGREEMENT_LINEAR: _dual_ranking(float),
    SelectionRule.CLUSTERS: lambda b: selection.cluster_ranking(b.signatures, b.pass_vectors, b.multiplicity),
}
"""The clusters a rule ranks, best first (an adaptive population stops on the leading
two; distinguishing inputs set the two apart)."""


def is_settled(rule: SelectionRule, ballot: Ballot) -> bool:
    """The rule's leading cluster is safely ahead of the runner-up (the Beta criterion)."""
    ranked = RANKINGS[rule](ballot)
    if not ranked:
        return False
    return selection.settled(len(ranked[0]), len(ranked[1]) if len(ranked) > 1 else 0)
