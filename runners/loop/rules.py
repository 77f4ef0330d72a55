"""Selection rules: pick one candidate of a population. Pure functions on vectors.

Candidates with no usable code are ``None`` and never picked. Ties go to the earliest
candidate, so a rule is deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

V = TypeVar("V", bound=tuple[Hashable, ...])


def groups(vectors: Sequence[V | None]) -> dict[V, list[int]]:
    """Candidates with equal vectors, in order of first appearance."""
    return _groups(vectors)


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
    groups = _groups(shown_signatures(signatures))
    if groups:
        return max(groups.values(), key=lambda members: (len(members), -members[0]))[0]
    texts = _groups(as_written(codes))
    if not texts:
        return None
    return max(texts.values(), key=lambda members: (len(members), -members[0]))[0]


def as_written(codes: Sequence[str | None]) -> list[tuple[str] | None]:
    """Each code as written, whitespace runs made one (None: no code): equal texts vote
    together when there is no behaviour to compare."""
    return [(" ".join(c.split()),) if c else None for c in codes]


def shown_signatures(
    signatures: Sequence[tuple[tuple[str, str], ...] | None],
) -> list[tuple[tuple[str, str], ...] | None]:
    """The signatures that show behaviour (None for the rest), unless none does: then all
    that have any probe."""
    shown = [s if s is not None and not _silent(s) else None for s in signatures]
    return [s if s else None for s in (shown if any(s for s in shown) else signatures)]


def probe_output(message: str) -> str:
    """A probe's output: the message of its failed assert, as the sandbox reports it."""
    return message.removeprefix("AssertionError: ")


def _silent(signature: tuple[tuple[str, str], ...]) -> bool:
    """Every probe raised, timed out or gave None: a probe's output is its assert's
    message, so a real output is a "failed" outcome whose message is not 'None'."""
    return all(status != "failed" or probe_output(message) == "None" for status, message in signature)


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
    scores = _dual_scores(vectors, weights, size_weight)
    if not scores:
        return []
    top = max(score for score, _ in scores)
    return sorted(i for score, members in scores if score == top for i in members)


def dual_agreement_ranking(
    vectors: Sequence[tuple[bool, ...] | None],
    weights: Sequence[int] | None = None,
    size_weight: Callable[[int], float] = math.sqrt,
) -> list[list[int]]:
    """The dual-agreement groups, best first (ties: the earliest first)."""
    scores = _dual_scores(vectors, weights, size_weight)
    return [members for _, members in sorted(scores, key=lambda item: (-item[0], item[1][0]))]


def dual_agreement_scores(
    vectors: Sequence[tuple[bool, ...] | None], weights: Sequence[int] | None = None
) -> list[float]:
    """CodeT's group scores (tests passed with multiplicity x sqrt(group size)), best first."""
    return sorted((score for score, _ in _dual_scores(vectors, weights, math.sqrt)), reverse=True)


def _dual_scores(
    vectors: Sequence[tuple[bool, ...] | None],
    weights: Sequence[int] | None,
    size_weight: Callable[[int], float],
) -> list[tuple[float, list[int]]]:
    groups = _groups([v if v is not None and any(v) else None for v in vectors])

    def score(vector: tuple[bool, ...], members: list[int]) -> float:
        passed = sum(w for w, ok in zip(weights or [1] * len(vector), vector, strict=True) if ok)
        return passed * size_weight(len(members))

    return [(score(vector, members), members) for vector, members in groups.items()]


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


def clusters(
    signatures: Sequence[tuple[tuple[str, str], ...] | None],
    vectors: Sequence[tuple[bool, ...] | None],
    weights: Sequence[int] | None = None,
) -> int | None:
    """Behaviour clusters scored by test agreement (MBR-exec's clusters, CodeT's score):
    candidates with the same outputs on every probed input form a cluster; a cluster
    scores the generated tests its members pass (the mean, each test counted with its
    multiplicity) x sqrt(its size). The first member of the best cluster is chosen; ties
    go to the earliest. None when no cluster passes any test."""
    ranked = cluster_ranking(signatures, vectors, weights)
    return ranked[0][0] if ranked else None


def cluster_ranking(
    signatures: Sequence[tuple[tuple[str, str], ...] | None],
    vectors: Sequence[tuple[bool, ...] | None],
    weights: Sequence[int] | None = None,
) -> list[list[int]]:
    """The clusters of ``clusters``, best first, those passing no test left out."""
    groups = _groups(
        [s if s is not None and vectors[i] is not None else None for i, s in enumerate(signatures)]
    )

    def passed(index: int) -> float:
        vector = vectors[index]
        assert vector is not None
        return sum(w for w, ok in zip(weights or [1] * len(vector), vector, strict=True) if ok)

    scored = [
        (sum(map(passed, members)) / len(members) * math.sqrt(len(members)), members)
        for members in groups.values()
    ]
    return [
        members for score, members in sorted(scored, key=lambda item: (-item[0], item[1][0])) if score > 0
    ]


def size_ranking(groups: Sequence[list[int]]) -> list[list[int]]:
    """Groups, largest first; ties go to the earliest."""
    return sorted(groups, key=lambda members: (-len(members), members[0]))


def settled(top: int, second: int, confidence: float = 0.95) -> bool:
    """Adaptive-Consistency's Beta stopping criterion (Aggarwal et al., 2023): with ``top``
    samples in the leading cluster and ``second`` in the runner-up, the leader's share of
    the two, under a uniform prior, is Beta(top + 1, second + 1); sampling stops once the
    chance that it is above one half reaches ``confidence``. P(Beta(a, b) > 1/2) is the
    chance of at most a - 1 heads in a + b - 1 fair tosses."""
    a, b = top + 1, second + 1
    n = a + b - 1
    return sum(math.comb(n, k) for k in range(a)) / 2**n >= confidence
