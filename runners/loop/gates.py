"""Cascade gates: one function per value of ``cascade.gate`` (space/methods.py declares
the values). A gate sees a stage's ballot, the trial's selection rule, the stage's pick
and the threshold, and says whether the stage's answer stands; when it does not, the
task goes on to the next stage (the last stage always answers). Every gate reads only
what the stage already ran: agreement among its samples and with the generated tests,
never a label.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from accord.runners.loop import rules as selection
from accord.runners.loop.selectors import RANKINGS, Ballot
from accord.space.methods import CascadeGate, SelectionRule

Gate = Callable[[Ballot, SelectionRule, "int | None", float], bool]


def _ranking(rule: SelectionRule, ballot: Ballot) -> list[list[int]]:
    """The clusters the rule ranks; behavioural clusters for a rule that ranks none."""
    return RANKINGS.get(rule, RANKINGS[SelectionRule.MAJORITY])(ballot)


def share(ballot: Ballot, rule: SelectionRule, chosen: int | None, threshold: float) -> bool:
    """Mixture-of-thoughts' vote (Yue et al., ICLR 2024): the leading cluster's share of
    the population reaches the threshold."""
    ranked = _ranking(rule, ballot)
    return bool(ranked) and len(ranked[0]) / len(ballot.members) >= threshold


def margin(ballot: Ballot, rule: SelectionRule, chosen: int | None, threshold: float) -> bool:
    """CodeT's best group leads the runner-up by at least ``threshold`` of its score."""
    scores = selection.dual_agreement_scores(ballot.pass_vectors, ballot.multiplicity)
    if not scores or scores[0] <= 0:
        return False
    runner_up = scores[1] if len(scores) > 1 else 0.0
    return (scores[0] - runner_up) / scores[0] >= threshold


def settled(ballot: Ballot, rule: SelectionRule, chosen: int | None, threshold: float) -> bool:
    """Adaptive-Consistency's Beta criterion at confidence ``threshold``."""
    ranked = _ranking(rule, ballot)
    if not ranked:
        return False
    return selection.settled(len(ranked[0]), len(ranked[1]) if len(ranked) > 1 else 0, threshold)


def aligned(ballot: Ballot, rule: SelectionRule, chosen: int | None, threshold: float) -> bool:
    """The stage's pick passes all of its own non-degenerate tests."""
    return chosen is not None and ballot.members[chosen].aligned


GATES: Mapping[CascadeGate, Gate] = {
    CascadeGate.SHARE: share,
    CascadeGate.MARGIN: margin,
    CascadeGate.SETTLED: settled,
    CascadeGate.ALIGNED: aligned,
}
