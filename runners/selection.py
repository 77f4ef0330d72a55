"""Selection rules: pick one candidate of a population. Pure functions on pass vectors."""

from __future__ import annotations

from collections.abc import Sequence


def majority(vectors: Sequence[tuple[bool, ...] | None]) -> int | None:
    """Behavioural majority: candidates that pass and fail the same tests behave alike;
    the largest such group wins (ties: more tests passed, then the earliest candidate).
    ``None`` marks a candidate with no usable code."""
    groups: dict[tuple[bool, ...], list[int]] = {}
    for index, vector in enumerate(vectors):
        if vector is not None:
            groups.setdefault(vector, []).append(index)
    if not groups:
        return None
    best = max(groups.items(), key=lambda item: (len(item[1]), sum(item[0]), -item[1][0]))
    return best[1][0]


def first_aligned(aligned: Sequence[bool], own_pass_fraction: Sequence[float | None]) -> int | None:
    """The first aligned candidate; else the one passing most of its own tests."""
    for index, ok in enumerate(aligned):
        if ok:
            return index
    scored = [(fraction, -index) for index, fraction in enumerate(own_pass_fraction) if fraction is not None]
    return -max(scored)[1] if scored else None
