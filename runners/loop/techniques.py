"""Techniques: what the coder and the tester see besides the task, one builder per value
of ``technique`` (space/methods.py declares the values)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from accord.runners.loop.members import Context, MemberState
from accord.runners.loop.service import Service
from accord.space.config import Role
from accord.space.methods import Technique
from accord.space.templates import fewshot_context

COT_CONTEXT = (
    "Before the code, reason step by step in a few short sentences: restate what is asked, "
    "work through the examples, and note the edge cases. Then give the code."
)


Builder = Callable[[Service, MemberState], Context]


def direct(loop: Service, s: MemberState) -> Context:
    return Context()


def cot(loop: Service, s: MemberState) -> Context:
    return Context(code=COT_CONTEXT)


def plan(loop: Service, s: MemberState) -> Context:
    text = loop.ask("plan", loop.planner_template, Role.PLANNER, s.index, s.index)
    return Context(code=f"Follow this plan:\n\n{text.strip()}")


def spec(loop: Service, s: MemberState) -> Context:
    """The spec is the one context the tester sees too: it holds no code."""
    text = loop.ask("spec", loop.planner_template, Role.PLANNER, s.index, s.index)
    agreed = f"Follow this agreed specification:\n\n{text.strip()}"
    return Context(code=agreed, tests=agreed)


def fewshot(loop: Service, s: MemberState) -> Context:
    return _examples(loop)


def _examples(loop: Service) -> Context:
    if not loop.config.fewshot_k:
        return Context()
    examples = loop.ctx.examples[: loop.config.fewshot_k]
    return Context(code=fewshot_context(examples, "code"), tests=fewshot_context(examples, "tests"))


def shared_tests_context(loop: Service) -> Context:
    """What the tester sees besides the task when its tests are drawn apart from any one
    member (``test_samples``): the same for every member, so never a spec."""
    technique = loop.config.technique
    if technique.tests_per_member:
        raise ValueError("a spec is written per member: its tests cannot be shared")
    return Context(tests=_examples(loop).tests) if technique.shows_examples else Context()


BUILDERS: Mapping[Technique, Builder] = {
    Technique.DIRECT: direct,
    Technique.COT: cot,
    Technique.PLAN: plan,
    Technique.SPEC: spec,
    Technique.FEWSHOT: fewshot,
}
