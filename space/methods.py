"""The methods of the literature, declared once: one enum per dimension whose values are
methods (techniques, repair policies, selection rules), each value with its summary and
the dimensions it brings into play.

Everything else reads these tables: validation of a study file (the allowed values),
``suggest`` and the presets (which dimensions apply), ``RunConfig.describe`` and the
README's method table (the summaries). The runners map each value to a strategy in one
place per dimension (``runners/loop/techniques.py``, ``runners/loop/repairs.py``,
``runners/loop/selectors.py``, ``runners/loop/gates.py``); a test checks that every value
has one. Adding a method is a member here and a function there.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class Method(StrEnum):
    """A StrEnum whose members carry a summary (for the docs), a phrase (for a
    configuration in words), the dimension groups they bring into play, and whether a
    study's space may list them: ``NAME = "value", "summary", "phrase", ("group", ...)``."""

    summary: str
    phrase: str
    uses: tuple[str, ...]
    searchable: bool

    def __new__(
        cls,
        value: str,
        summary: str = "",
        phrase: str = "",
        uses: tuple[str, ...] = (),
        searchable: bool = True,
    ) -> Any:
        member = str.__new__(cls, value)
        member._value_ = value
        member.summary = summary
        member.phrase = phrase or value
        member.uses = uses
        member.searchable = searchable
        return member

    @classmethod
    def searchable_values(cls) -> tuple[str, ...]:
        """The values a study's space may list."""
        return tuple(member.value for member in cls if member.searchable)


class Technique(Method):
    """How code is written, and what the coder and tester see besides the task."""

    DIRECT = "direct", "code written directly from the task", "code written directly"
    COT = (
        "cot",
        "chain of thought: the coder reasons step by step before the code",
        "chain of thought before code",
    )
    PLAN = (
        "plan",
        "the planner writes a plan, which the coder follows",
        "a plan by {planner} before code",
        ("planner",),
    )
    SPEC = (
        "spec",
        "the planner writes a spec (signature, terms, input/output examples) that coder and tester follow",
        "a spec by {planner} that code and tests follow",
        ("planner",),
    )
    FEWSHOT = (
        "fewshot",
        "`fewshot.k` worked examples shown to coder and tester",
        "{k} worked examples",
        ("fewshot",),
    )

    @property
    def tests_per_member(self) -> bool:
        """The tester sees something written for each member (a spec): a population's
        tests cannot be drawn apart from its code."""
        return self is Technique.SPEC

    @property
    def shows_examples(self) -> bool:
        """Worked examples are shown to the tester too."""
        return self is Technique.FEWSHOT


class RepairPolicy(Method):
    """What a round that did not align regenerates."""

    @property
    def weighs_peers(self) -> bool:
        """A round first weighs each member's failing tests against its peers' candidates."""
        return self is RepairPolicy.BLAME

    CODE = "code", "Self-Debug: the repairer rewrites the code, the failing asserts as feedback"
    REFLECT = "reflect", "Reflexion: a written reflection on the failure, then the repair"
    TESTS = "tests", "the tests are written anew"
    BOTH = "both", "the tests are written anew and the code repaired"
    BLAME = (
        "blame",
        "a failing test that the largest group of agreeing peer candidates also fails is dropped "
        "(the tests are written anew when too few remain); the code is repaired for the rest",
    )


class SelectionRule(Method):
    """How one answer is picked out of a task's population."""

    SINGLE = "single", "a population of one: its member is the answer", "", (), False
    MAJORITY = (
        "majority",
        "behavioural vote: every call found in the generated tests runs on every candidate; "
        "candidates with the same outputs form a group, the largest wins",
    )
    DUAL_AGREEMENT = (
        "dual_agreement",
        "CodeT: candidates passing the same generated tests form a group, scored by tests passed "
        "x sqrt(group size)",
    )
    DUAL_AGREEMENT_LINEAR = (
        "dual_agreement_linear",
        "CodeT as the paper writes it: groups scored by tests passed x group size",
    )
    CLUSTERS = (
        "clusters",
        "behaviour clusters (same outputs on every call found in the generated tests, as majority) "
        "scored by the generated tests their members pass x sqrt(cluster size), as CodeT scores groups",
    )
    FIRST_ALIGNED = "first_aligned", "the first aligned member; else the one passing most of its own tests"
    MOST_PASSED = "most_passed", "the candidate passing the most generated tests"

    @property
    def clusters(self) -> bool:
        """The rule ranks clusters of candidates (what an adaptive population and
        distinguishing inputs work on)."""
        return self in CLUSTER_RULES


CLUSTER_RULES = frozenset(
    {
        SelectionRule.MAJORITY,
        SelectionRule.DUAL_AGREEMENT,
        SelectionRule.DUAL_AGREEMENT_LINEAR,
        SelectionRule.CLUSTERS,
    }
)


class CascadeGate(Method):
    """What lets a cascade's stage answer a task instead of passing it to the next stage
    (the last stage always answers)."""

    SHARE = (
        "share",
        "the leading cluster (as the selection rule ranks them; majority's for other rules) holds at "
        "least `cascade.threshold` of the stage's population",
        "its leading cluster holds at least {threshold:g} of its population",
        ("threshold",),
    )
    MARGIN = (
        "margin",
        "the CodeT score of the best group leads the runner-up's by at least `cascade.threshold` "
        "of the best score",
        "CodeT's top group leads the next by at least {threshold:g} of its score",
        ("threshold",),
    )
    SETTLED = (
        "settled",
        "Adaptive-Consistency's criterion: the chance that the leading cluster stays ahead of the "
        "runner-up is at least `cascade.threshold`",
        "its leading cluster stays ahead with probability at least {threshold:g}",
        ("threshold",),
    )
    ALIGNED = "aligned", "the stage's selected answer aligned with its tests", "its answer aligned"


METHODS: dict[str, type[Method]] = {
    "technique": Technique,
    "repair.policy": RepairPolicy,
    "selection.rule": SelectionRule,
    "cascade.gate": CascadeGate,
}
"""The dimensions whose values are methods."""


def method_table() -> str:
    """The README's table of methods, generated from the enums (a test keeps them equal)."""
    lines = ["| dimension | value | what it does |", "| --- | --- | --- |"]
    for dimension, enum in METHODS.items():
        for member in enum:
            if member.searchable:
                lines.append(f"| `{dimension}` | `{member.value}` | {member.summary} |")
    return "\n".join(lines)
