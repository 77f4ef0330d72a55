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


def majority(signatures: Sequence[tuple[Hashable, ...] | None]) -> int | None:
    """Behavioural majority vote: candidates with the same outputs on every probed input
    behave alike; the largest such group wins."""
    groups = _groups(signatures)
    if not groups:
        return None
    return max(groups.values(), key=lambda members: (len(members), -members[0]))[0]


def dual_agreement(
    vectors: Sequence[tuple[bool, ...] | None], weight: Callable[[int], float] = math.sqrt
) -> int | None:
    """CodeT: group candidates by the set of generated tests they pass; a group scores
    (tests passed) x weight(group size), sqrt by default; the best group's first
    candidate wins."""
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
