"""Cascades: a cheap model answers the tasks it agrees with itself on, the strong model
the rest; the tests are drawn once a task for every stage; each gate decides on what
the stage already ran."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from accord.runners.llm import Gateway, LLMRequest, Meter, ModelSpec
from accord.runners.loop.gates import GATES
from accord.runners.loop.members import LoopContext, Member
from accord.runners.loop.population import run_population
from accord.runners.loop.selectors import Ballot
from accord.runners.run import gate_precision, stage_figures
from accord.runners.sandbox import Sandbox
from accord.runners.tasks.load import Task, load_tasks
from accord.runners.testing import ScriptedBackend, by_role, fenced
from accord.space import CascadeGate, PromptLibrary, RoleConfig, RunConfig, SelectionRule
from tests.helpers import GOOD_CODE, GOOD_TESTS, entry_of

MODELS = {a: ModelSpec(alias=a, model=f"fake/{a}") for a in ("cheap", "strong")}
WRONG = {"add": "def add(a, b):\n    return a - b", "rev": "def rev(s):\n    return s"}
ODD = {"add": "def add(a, b):\n    return a * b + {k}", "rev": "def rev(s):\n    return s + '{k}'"}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as box:
        yield box


@pytest.fixture
def tasks(task_file: Path) -> list[Task]:
    return list(load_tasks(str(task_file)))  # t/add, t/rev


def coder(request: LLMRequest) -> str:
    """The cheap model agrees with itself on add (every sample the same right code) and
    disagrees on rev (every sample different); the strong model solves both."""
    entry = entry_of(request)
    if request.model == "strong":
        return fenced(GOOD_CODE[entry])
    if entry == "add":
        return fenced(GOOD_CODE["add"])
    return fenced(ODD[entry].format(k=request.sample))


def config(gate: str = "share", **changes: object) -> RunConfig:
    base = RunConfig(
        coder=RoleConfig(model="cheap>strong", prompt="direct", temperature=0.8),
        tester=RoleConfig(model="cheap", prompt="basic", temperature=0.8),
        population=4,
        max_rounds=0,
        selection=SelectionRule.MAJORITY,
        gate=CascadeGate(gate),
        threshold=0.6,
        min_asserts=1,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def run(tasks: list[Task], cfg: RunConfig, sandbox: Sandbox) -> tuple[ScriptedBackend, list]:  # type: ignore[type-arg]
    backend = ScriptedBackend(by_role({"coder": coder, "tester": lambda r: fenced(GOOD_TESTS[entry_of(r)])}))
    ctx = LoopContext(
        gateway=Gateway(MODELS, backend),
        executor=sandbox,
        prompts=PromptLibrary.load(),
        meter=Meter(unit="usd"),
    )
    return backend, [run_population(task, cfg, ctx) for task in tasks]


@pytest.mark.parametrize("gate", ["share", "margin", "settled"])
def test_a_cascade_stops_where_the_cheap_model_agrees_and_escalates_where_it_does_not(
    tasks: list[Task], sandbox: Sandbox, gate: str
) -> None:
    backend, (add, rev) = run(tasks, config(gate), sandbox)
    assert (add.stage, rev.stage) == (0, 1)
    assert add.hidden_passed and rev.hidden_passed
    calls = [(c.task_id, c.role, c.model) for c in backend.calls]
    # add: 4 cheap code calls and 4 test calls, nothing from the strong model
    assert calls.count(("t/add", "coder", "cheap")) == 4
    assert calls.count(("t/add", "coder", "strong")) == 0
    # rev: 4 cheap, then 4 strong code calls; its 4 test samples are drawn once, not per stage
    assert calls.count(("t/rev", "coder", "cheap")) == 4
    assert calls.count(("t/rev", "coder", "strong")) == 4
    assert calls.count(("t/rev", "tester", "cheap")) == 4
    assert len(add.stage_costs) == 1 and len(rev.stage_costs) == 2
    assert rev.cost == pytest.approx(sum(rev.stage_costs))
    figures = stage_figures([add, rev], ("cheap", "strong"), "hidden")
    assert [(f.answered, f.passed, f.reached) for f in figures] == [(1, 1, 2), (1, 1, 1)]
    assert gate_precision(figures) == 1.0


def test_the_aligned_gate_stops_on_an_aligned_answer(tasks: list[Task], sandbox: Sandbox) -> None:
    # population 1: rev's one cheap sample fails the tests and cannot align; add's aligns
    backend, (add, rev) = run(tasks, config("aligned", population=1, selection=SelectionRule.SINGLE), sandbox)
    assert (add.stage, rev.stage) == (0, 1)
    assert sum(c.model == "strong" for c in backend.calls) == 1


def test_the_last_stage_draws_its_own_population_and_pooled_candidates_vote(
    tasks: list[Task], sandbox: Sandbox
) -> None:
    backend, (_, rev) = run(tasks, config(last_population=2, pool=True), sandbox)
    assert rev.stage == 1 and rev.members == 6  # 4 cheap + 2 strong drawn
    assert sum(c.model == "strong" and c.task_id == "t/rev" for c in backend.calls) == 2
    assert rev.hidden_passed  # the two strong answers agree; the cheap ones each stand alone


def test_a_threshold_of_one_sends_a_split_vote_on(tasks: list[Task], sandbox: Sandbox) -> None:
    def split_coder(request: LLMRequest) -> str:  # 3 of 4 cheap samples right on add
        if request.model == "cheap" and request.sample == 3:
            return fenced(WRONG[entry_of(request)])
        return coder(request)

    for threshold, stage in ((0.75, 0), (1.0, 1)):
        backend = ScriptedBackend(
            by_role({"coder": split_coder, "tester": lambda r: fenced(GOOD_TESTS[entry_of(r)])})
        )
        ctx = LoopContext(
            gateway=Gateway(MODELS, backend), executor=sandbox, prompts=PromptLibrary.load(), meter=Meter()
        )
        assert run_population(tasks[0], config(threshold=threshold), ctx).stage == stage


def member(index: int, code: str | None, aligned: bool = False) -> Member:
    return Member(
        index=index, model="m", code=code, tests=(), tests_valid=True, result=None, aligned=aligned, rounds=0
    )


def test_every_gate_fails_a_population_without_code(tasks: list[Task], sandbox: Sandbox) -> None:
    ballot = Ballot([member(0, None), member(1, None)], tasks[0], sandbox, 1.0, test_sets=[(), ()])
    for gate, decide in GATES.items():
        assert not decide(ballot, SelectionRule.MAJORITY, None, 0.0), gate
    assert set(GATES) == set(CascadeGate)
