"""The method tables: declared once, documented from the declaration, read by the space."""

from __future__ import annotations

import re

from accord.space import DIMENSIONS, METHODS, SelectionRule, Technique
from accord.space.methods import method_table
from tests.helpers import REPO


def test_readme_method_table_is_generated_from_the_enums() -> None:
    readme = (REPO / "README.md").read_text()
    block = re.search(r"<!-- methods:start -->\n(.*?)\n<!-- methods:end -->", readme, re.DOTALL)
    assert block is not None
    assert block.group(1) == method_table(), (
        "regenerate with: python -c 'from accord.space.methods import method_table; print(method_table())'"
    )


def test_the_space_allows_exactly_the_searchable_methods() -> None:
    for dimension, enum in METHODS.items():
        assert DIMENSIONS[dimension].allowed == tuple(m.value for m in enum if m.searchable)
    assert "single" not in DIMENSIONS["selection.rule"].allowed  # a population of one has no rule
    assert SelectionRule("single") is SelectionRule.SINGLE


def test_a_technique_brings_its_dimensions_into_play() -> None:
    when = DIMENSIONS["fewshot.k"].when
    assert when({"technique": "fewshot"}) and not when({"technique": "cot"})
    planner = DIMENSIONS["planner.model"].when
    assert planner({"technique": Technique.SPEC, "loop.self_explain": False})
    assert planner({"technique": "direct", "loop.self_explain": True})
    assert not planner({"technique": "cot", "loop.self_explain": False})
