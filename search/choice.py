"""Choosing a configuration: the cheapest whose pass rate meets the bar, among the front
(or, once confirmed, among the configurations confirmed), chosen on the search figures and
only then read on the held-out ones. A choice made on held-out figures reads them as a
pick among several on the very tasks it is reported on: optimistic again; it is offered
beside the honest one, labelled."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import optuna

from accord.search.compare import Scored, holdout_trials, scored, usable
from accord.search.study import best_trials

Point = tuple[Scored, float, float]
"""A configuration with the pass rate and cost it is chosen on."""


def cheapest_at(points: Sequence[Point], bar: float | None) -> Scored | None:
    """The cheapest point whose pass rate reaches ``bar`` (default: the best of them);
    ties: the higher rate, then the earlier trial."""
    if not points:
        return None
    bar = bar if bar is not None else max(value for _, value, _ in points)
    meeting = [point for point in points if point[1] >= bar]
    if not meeting:
        return None
    return min(meeting, key=lambda point: (point[2], -point[1], point[0].trial.number))[0]


def front_of(points: Sequence[Point]) -> list[Point]:
    """The points no other beats on both pass rate (up) and cost (down)."""
    return [
        a for a in points
        if not any(b[1] >= a[1] and b[2] <= a[2] and (b[1] > a[1] or b[2] < a[2]) for b in points)
    ]  # fmt: skip


@dataclass(frozen=True, slots=True)
class Choice:
    chosen: Scored | None
    """None: nothing reaches the bar."""
    bar: float
    everything: list[Scored]
    """Every usable trial, with its held-out figures where confirmed."""
    looked: Scored | None
    """The choice the held-out figures would make (optimistic), when confirmed."""


def choose(study: optuna.Study, storage: str, min_pass_rate: float | None) -> Choice | None:
    """The choice on the search figures (None: no completed feasible trial)."""
    front = best_trials(study)
    if not front:
        return None
    everything = scored(
        [t for t in study.get_trials(deepcopy=False) if usable(t)], holdout_trials(storage, study.study_name)
    )
    on_holdout = [s for s in everything if s.holdout is not None]
    candidates = on_holdout or [s for s in everything if s.trial in front]
    points = front_of([(s, s.search.value if s.search else 0.0, s.cost) for s in candidates])
    bar = min_pass_rate if min_pass_rate is not None else max(value for _, value, _ in points)
    held = [(s, s.holdout.value, s.holdout_cost or 0.0) for s in on_holdout if s.holdout]
    looked = cheapest_at(front_of(held), min_pass_rate) if held else None
    return Choice(chosen=cheapest_at(points, bar), bar=bar, everything=everything, looked=looked)
