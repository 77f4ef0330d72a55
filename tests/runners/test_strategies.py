"""Every method the space declares has exactly one strategy in the runners, and the tables
that must agree do."""

from __future__ import annotations

from accord.runners.loop.gates import GATES
from accord.runners.loop.repairs import STEPS
from accord.runners.loop.selectors import RANKINGS, SELECTORS
from accord.runners.loop.techniques import BUILDERS
from accord.space import CascadeGate, RepairPolicy, SelectionRule, Technique
from accord.space.methods import CLUSTER_RULES


def test_every_method_has_a_strategy() -> None:
    assert set(BUILDERS) == set(Technique)
    assert set(STEPS) == set(RepairPolicy)
    assert set(SELECTORS) == set(SelectionRule)
    assert set(GATES) == set(CascadeGate)


def test_the_rules_that_rank_clusters_are_the_rules_with_a_ranking() -> None:
    # an adaptive population, distinguishing inputs and the cascade gates read a rule's
    # ranking; the space offers them exactly for CLUSTER_RULES
    assert set(RANKINGS) == set(CLUSTER_RULES)
    assert {rule for rule in SelectionRule if rule.clusters} == set(RANKINGS)
