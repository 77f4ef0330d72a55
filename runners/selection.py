"""Selection rules: pick one candidate of a population. Pure functions on vectors.

Candidates with no usable code are ``None`` and never picked. Ties go to the earliest
candidate, so a rule is deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

V = TypeVar("V", bound=tuple[Hashable, ...])


def _groups(vectors: Sequence[V | None]) -> dict[V, list[int]]:
    groups: dict[V, list[int]] = {}
    for index, vector in enumerate(vectors):
        if vector is not None:
            groups.setdefault(vector, []).append(index)
    return groups


def majority(
    signatures: Sequence[tuple[tuple[str, str], ...] | None], codes: Sequence[str | None] = ()
) -> int | None:
    """Behavioural majority vote: candidates with the same outputs on every probed input
    behave alike; the largest such group wins. A candidate that raised, timed out or
    returned None on every probe shows no behaviour and cannot win as part of a bloc
    (unless every candidate is like that). Without probes (the tests held no usable call),
    the most common code wins, compared as written; ties go to the earliest."""
    shown = [s if s is not None and not _silent(s) else None for s in signatures]
    if any(s for s in shown):
        signatures = shown
    groups = _groups([s if s else None for s in signatures])
    if groups:
        return max(groups.values(), key=lambda members: (len(members), -members[0]))[0]
    texts = _groups([(" ".join(c.split()),) if c else None for c in codes])
    if not texts:
        return None
    return max(texts.values(), key=lambda members: (len(members), -members[0]))[0]


def _silent(signature: tuple[tuple[str, str], ...]) -> bool:
    """Every probe raised, timed out or gave None: a probe's output is its assert's
    message, so a real output is a "failed" outcome whose message is not 'None'."""
    return all(status != "failed" or message == "None" for status, message in signature)


def dual_agreement(
    vectors: Sequence[tuple[bool, ...] | None], weights: Sequence[int] | None = None
) -> int | None:
    """CodeT as published (microsoft/CodeT src/agreement.py): candidates passing the same
    set of generated tests form a group; a group scores (tests passed, each counted with
    its multiplicity across the test samples) x sqrt(group size); candidates passing no
    test form no group; top groups with equal scores are merged. The first candidate of
    the winning (merged) group is chosen."""
    group = dual_agreement_group(vectors, weights)
    return group[0] if group else None


def dual_agreement_group(
    vectors: Sequence[tuple[bool, ...] | None],
    weights: Sequence[int] | None = None,
    size_weight: Callable[[int], float] = math.sqrt,
) -> list[int]:
    """The members of the winning dual-agreement group, top ties merged (CodeT's pass@1
    is the expected correctness of a member drawn from it)."""
    groups = _groups([v if v is not None and any(v) else None for v in vectors])
    if not groups:
        return []

    def score(vector: tuple[bool, ...], members: list[int]) -> float:
        passed = sum(w for w, ok in zip(weights or [1] * len(vector), vector, strict=True) if ok)
        return passed * size_weight(len(members))

    scores = {vector: score(vector, members) for vector, members in groups.items()}
    top = max(scores.values())
    return sorted(i for vector, members in groups.items() if scores[vector] == top for i in members)


def dual_agreement_distinct(
    vectors: Sequence[tuple[bool, ...] | None], weight: Callable[[int], float] = math.sqrt
) -> int | None:
    """accord's first CodeT variant: every distinct test counts once, groups that pass
    nothing compete too, and ties go to the earliest group."""
    groups = _groups(vectors)
    if not groups:
        return None
    best = max(groups.items(), key=lambda item: (sum(item[0]) * weight(len(item[1])), -item[1][0]))
    return best[1][0]


def most_passed(vectors: Sequence[tuple[bool, ...] | None]) -> int | None:
    """The candidate passing the most generated tests."""
    scored = [(sum(v), -index) for index, v in enumerate(vectors) if v is not None]
    return -max(scored)[1] if scored else None


def first_aligned(aligned: Sequence[bool], own_pass_fraction: Sequence[float | None]) -> int | None:
    """The first aligned candidate; else the one passing most of its own tests."""
    for index, ok in enumerate(aligned):
        if ok:
            return index
    scored = [(fraction, -index) for index, fraction in enumerate(own_pass_fraction) if fraction is not None]
    return -max(scored)[1] if scored else None
