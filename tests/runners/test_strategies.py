"""Every method the space declares has exactly one strategy in the runners."""

from __future__ import annotations

from accord.runners.repairs import STEPS
from accord.runners.selectors import SELECTORS
from accord.runners.techniques import BUILDERS
from accord.space import RepairPolicy, SelectionRule, Technique


def test_every_method_has_a_strategy() -> None:
    assert set(BUILDERS) == set(Technique)
    assert set(STEPS) == set(RepairPolicy)
    assert set(SELECTORS) == set(SelectionRule)
