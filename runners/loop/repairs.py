"""Repair policies: one step per value of ``repair.policy`` (space/methods.py declares
the values), taken by a member whose code runs but fails some of its valid tests."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from accord.runners.loop.members import MemberState
from accord.runners.loop.service import Service
from accord.runners.sandbox import PASSED, ExecResult
from accord.space.methods import RepairPolicy

FEEDBACK_LIMIT = 5

Step = Callable[[Service, MemberState, int, tuple[str, ...]], None]
"""(loop, member, sample index, suspect tests) -> None: rewrites the member's code or tests."""


def feedback(result: ExecResult, only: Sequence[str] | None = None) -> str:
    """The failing asserts with their errors, as the repairer sees them."""
    failing = [o for o in result.outcomes if o.status != PASSED and (only is None or o.test in only)]
    return "\n".join(
        f"{o.test}\n    -> {o.status}: {o.error or 'assertion failed'}" for o in failing[:FEEDBACK_LIMIT]
    )


def blame(
    tests: Sequence[str], failing: Sequence[str], peers: Sequence[tuple[bool, ...]], union: Sequence[str]
) -> tuple[str, ...]:
    """The failing tests to blame: those that every candidate of the largest group of
    peers agreeing with each other (same verdict on every test of ``union``, at least two
    of them) fails too. ``peers`` are pass vectors over ``union``."""
    groups: dict[tuple[bool, ...], int] = {}
    for vector in peers:
        groups[vector] = groups.get(vector, 0) + 1
    if not groups:
        return ()
    vector, size = max(groups.items(), key=lambda item: item[1])
    if size < 2:
        return ()
    position = {test: i for i, test in enumerate(union)}
    return tuple(t for t in tests if t in failing and t in position and not vector[position[t]])


def _result(s: MemberState) -> ExecResult:
    assert s.result is not None
    return s.result


def code(loop: Service, s: MemberState, sample: int, suspects: tuple[str, ...]) -> None:
    s.code = loop.fix(s, sample, feedback(_result(s)))


def reflect(loop: Service, s: MemberState, sample: int, suspects: tuple[str, ...]) -> None:
    failures = feedback(_result(s))
    s.code = loop.fix(s, sample, failures, loop.reflect(s, sample, failures))


def tests(loop: Service, s: MemberState, sample: int, suspects: tuple[str, ...]) -> None:
    s.tests = loop.write_tests(s, sample)


def both(loop: Service, s: MemberState, sample: int, suspects: tuple[str, ...]) -> None:
    failures = feedback(_result(s))
    s.tests = loop.write_tests(s, sample)
    s.code = loop.fix(s, sample, failures)


def by_blame(loop: Service, s: MemberState, sample: int, suspects: tuple[str, ...]) -> None:
    result = _result(s)
    if not suspects:
        code(loop, s, sample, suspects)
        return
    kept = tuple(t for t in s.tests if t not in suspects)
    s.tests = kept if len(kept) >= loop.config.min_asserts else loop.write_tests(s, sample)
    rest = [o.test for o in result.outcomes if o.status != PASSED and o.test not in suspects]
    if rest:
        s.code = loop.fix(s, sample, feedback(result, rest))


STEPS: Mapping[RepairPolicy, Step] = {
    RepairPolicy.CODE: code,
    RepairPolicy.REFLECT: reflect,
    RepairPolicy.TESTS: tests,
    RepairPolicy.BOTH: both,
    RepairPolicy.BLAME: by_blame,
}
