"""The population methods of the literature, each on a hand-built case where it picks
differently from the existing rules, and is right: behaviour clusters scored by test
agreement, an adaptive population, test samples drawn apart from the code, and
distinguishing inputs."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from accord.runners.llm import Gateway, LLMRequest, Meter, ModelSpec
from accord.runners.loop import rules as selection
from accord.runners.loop.members import LoopContext, Member
from accord.runners.loop.population import run_population
from accord.runners.loop.selectors import Ballot, majority
from accord.runners.sandbox import Sandbox
from accord.runners.tasks.load import Task, load_tasks
from accord.runners.testing import ScriptedBackend, by_role, fenced
from accord.space import PromptLibrary, RoleConfig, RunConfig
from tests.helpers import GOOD_CODE, GOOD_TESTS

MODELS = {"m": ModelSpec(alias="m", model="fake/m")}
WRONG = "def add(a, b):\n    return a - b"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as box:
        yield box


@pytest.fixture
def add(task_file: Path) -> Task:
    return load_tasks(str(task_file))[0]


def config(population: int, rule: str, **changes: object) -> RunConfig:
    base = RunConfig(
        coder=RoleConfig(model="m", prompt="direct", temperature=0.8),
        tester=RoleConfig(model="m", prompt="basic", temperature=0.8),
        population=population,
        max_rounds=0,
        selection=rule,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def run(
    task: Task, cfg: RunConfig, backend: ScriptedBackend, sandbox: Sandbox
) -> tuple[int | None, bool, int]:
    """(selected member, hidden verdict, calls made)."""
    meter = Meter(unit="tokens")
    ctx = LoopContext(
        gateway=Gateway(MODELS, backend), executor=sandbox, prompts=PromptLibrary.load(), meter=meter
    )
    outcome = run_population(task, cfg, ctx)
    return outcome.selected, bool(outcome.hidden_passed), meter.calls


# -- behaviour clusters scored by test agreement ----------------------------------------


def test_clusters_score_behaviour_by_the_tests_it_passes() -> None:
    # Two right candidates (0, 1) pass all three generated tests; three wrong ones behave
    # alike and pass one; six wrong ones each behave differently and pass two.
    right, bloc = (("failed", "5"),), (("failed", "-1"),)
    signatures = [right, right, bloc, bloc, bloc] + [(("failed", str(100 + k)),) for k in range(6)]
    vectors = [(True, True, True)] * 2 + [(True, False, False)] * 3 + [(True, True, False)] * 6
    # majority follows the largest behaviour (the bloc of three), CodeT's dual agreement
    # the largest set of equal pass vectors (the six, 2 x sqrt(6) > 3 x sqrt(2))
    assert selection.majority(signatures) == 2
    assert selection.dual_agreement(vectors) == 5
    # behaviour clusters: the six are six clusters of one (2 x 1 each), the right pair scores 3 x sqrt(2)
    assert selection.clusters(signatures, vectors) == 0
    assert selection.cluster_ranking(signatures, vectors)[:2] == [[0, 1], [5]]
    assert selection.clusters([None, None], [None, None]) is None


def test_clusters_pick_the_right_code_in_a_population(add: Task, sandbox: Sandbox) -> None:
    codes = [WRONG, WRONG, GOOD_CODE["add"], "def add(a, b):\n    return b + a"]
    tests = "assert add(2, 3) == 5\nassert add(0, 0) == 0\nassert add(-2, 7) == 5"
    backend = ScriptedBackend(by_role({"coder": lambda r: fenced(codes[r.sample]), "tester": fenced(tests)}))
    # the two wrong codes are one behaviour and the largest group; majority takes them
    assert run(add, config(4, "majority"), backend, sandbox)[:2] == (0, False)
    assert run(add, config(4, "clusters"), backend, sandbox)[:2] == (2, True)


def test_identical_codes_run_once_and_keep_their_votes(add: Task, sandbox: Sandbox) -> None:
    codes = [
        GOOD_CODE["add"],
        "def add(a, b):\n    return a - b",
        "def add(a,b):  # the same, laid out otherwise\n    return a-b",
        "def add(a, b):\n    return (a - b)",
    ]
    tests = ("assert add(1, 1) == 2", "assert add(4, 1) == 5")
    members = [
        Member(
            index=i, model="m", code=c, tests=tests, tests_valid=True, result=None, aligned=False, rounds=0
        )
        for i, c in enumerate(codes)
    ]
    ballot = Ballot(members, add, sandbox, timeout_s=3.0)
    before = sandbox.executed_pairs
    signatures = ballot.signatures
    assert sandbox.executed_pairs - before == 2 * 2  # two distinct codes, two probes each
    assert signatures[1] == signatures[2] == signatures[3] != signatures[0]
    assert majority(ballot) == 1  # three votes for a - b: layout does not split them


def test_a_bloc_returning_none_does_not_win_the_vote(add: Task, sandbox: Sandbox) -> None:
    # what the sandbox reports for a probe is "AssertionError: <output>": None must read as None
    codes = [
        "def add(a, b):\n    pass",
        "def add(a, b):\n    return None",
        GOOD_CODE["add"],
        "def add(a, b):\n    pass",
    ]
    backend = ScriptedBackend(
        by_role({"coder": lambda r: fenced(codes[r.sample]), "tester": fenced(GOOD_TESTS["add"])})
    )
    assert run(add, config(4, "majority"), backend, sandbox)[:2] == (2, True)


# -- adaptive population ----------------------------------------------------------------


def test_an_adaptive_population_stops_once_its_leader_is_safely_ahead(add: Task, sandbox: Sandbox) -> None:
    # the first four samples agree (and are right); the eight after them agree on a wrong answer
    backend = ScriptedBackend(
        by_role(
            {
                "coder": lambda r: fenced(GOOD_CODE["add"] if r.sample < 4 else WRONG),
                "tester": fenced(GOOD_TESTS["add"]),
            }
        )
    )
    full = run(add, config(12, "majority"), backend, sandbox)
    adaptive = run(add, config(12, "majority", adaptive=True), backend, sandbox)
    assert full[:2] == (4, False) and full[2] == 24  # 8 wrong outvote 4 right
    assert adaptive == (0, True, 8)  # four unanimous samples: P(leader ahead) = 0.97 >= 0.95


def test_an_adaptive_population_keeps_drawing_while_it_is_split(add: Task, sandbox: Sandbox) -> None:
    # samples alternate right and wrong until sample 6; from there all are right
    backend = ScriptedBackend(
        by_role(
            {
                "coder": lambda r: fenced(GOOD_CODE["add"] if r.sample % 2 == 0 or r.sample >= 6 else WRONG),
                "tester": fenced(GOOD_TESTS["add"]),
            }
        )
    )
    selected, passed, calls = run(add, config(20, "dual_agreement", adaptive=True), backend, sandbox)
    # 2 against 2 after 4, 5 against 3 after 8 (P = 0.75), 9 against 3 after 12 (P = 0.95): stop
    assert (selected, passed, calls) == (0, True, 24)
    assert selection.settled(9, 3) and not selection.settled(5, 3) and not selection.settled(2, 2)


# -- test samples drawn apart from the code ---------------------------------------------


def test_more_test_samples_than_code_samples_let_dual_agreement_see(add: Task, sandbox: Sandbox) -> None:
    wrong_tests = "assert add(5, 3) == 2\nassert add(1, 1) == 0\nassert add(9, 4) == 5"

    def tester(request: LLMRequest) -> str:
        return fenced(wrong_tests if request.sample == 0 else GOOD_TESTS["add"])

    codes = [WRONG, GOOD_CODE["add"]]
    backend = ScriptedBackend(by_role({"coder": lambda r: fenced(codes[r.sample]), "tester": tester}))
    # one test sample per member: each code passes one sample's three tests; a tie goes first
    assert run(add, config(2, "dual_agreement"), backend, sandbox)[:2] == (0, False)
    selected, passed, calls = run(add, config(2, "dual_agreement", test_samples=6), backend, sandbox)
    assert (selected, passed, calls) == (1, True, 2 + 6)
    samples = sorted(c.sample for c in backend.calls[-8:] if c.role == "tester")
    assert samples == [0, 1, 2, 3, 4, 5]  # the tester's own samples 0..5, each once


def test_fewer_test_samples_than_members_are_shared(add: Task, sandbox: Sandbox) -> None:
    backend = ScriptedBackend(
        by_role({"coder": fenced(GOOD_CODE["add"]), "tester": fenced(GOOD_TESTS["add"])})
    )
    selected, passed, calls = run(add, config(6, "dual_agreement", test_samples=2), backend, sandbox)
    assert (selected, passed, calls) == (0, True, 6 + 2)


# -- distinguishing inputs --------------------------------------------------------------


def judge(request: LLMRequest) -> str:
    """Answers which output the task asks for, by computing it."""
    text = request.messages[-1]["content"]
    call = re.search(r"call `add\((-?\d+), (-?\d+)\)`", text)
    outputs = dict(re.findall(r"^([AB]): (.*)$", text, re.MULTILINE))
    assert call and outputs, text
    right = str(int(call.group(1)) + int(call.group(2)))
    return "A, because" if outputs["A"] == right else "B, because"


def test_distinguishing_inputs_let_the_judge_overturn_a_wrong_leader(add: Task, sandbox: Sandbox) -> None:
    codes = [WRONG, WRONG, GOOD_CODE["add"]]
    # the wrong code passes all three (the last assert is wrong), the right one two
    weak = "assert add(0, 0) == 0\nassert add(3, 0) == 3\nassert add(2, 1) == 1"
    answers = {
        "code": lambda r: fenced(codes[r.sample]),
        "tests": fenced(weak),
        "distinguish": fenced("add(2, 3)\nadd(1, 1)"),
        "judge": judge,
    }
    backend = ScriptedBackend(
        lambda r: answers[r.stage](r) if callable(answers[r.stage]) else answers[r.stage]
    )
    cfg = config(3, "clusters", min_asserts=1)
    assert run(add, cfg, backend, sandbox)[:2] == (0, False)  # the larger wrong cluster leads
    selected, passed, _ = run(add, dataclasses.replace(cfg, distinguish=True), backend, sandbox)
    assert (selected, passed) == (2, True)
    stages = [c.stage for c in backend.calls]
    assert stages.count("distinguish") == 1 and stages.count("judge") == 2


def test_distinguishing_inputs_keep_the_leader_when_the_judge_agrees(add: Task, sandbox: Sandbox) -> None:
    codes = [GOOD_CODE["add"], GOOD_CODE["add"], WRONG]
    weak = "assert add(0, 0) == 0\nassert add(3, 0) == 3\nassert add(2, 1) == 3"
    answers = {
        "code": lambda r: fenced(codes[r.sample]),
        "tests": fenced(weak),
        "distinguish": fenced("add(2, 3)"),
        "judge": judge,
    }
    backend = ScriptedBackend(
        lambda r: answers[r.stage](r) if callable(answers[r.stage]) else answers[r.stage]
    )
    selected, passed, _ = run(add, config(3, "clusters", min_asserts=1, distinguish=True), backend, sandbox)
    assert (selected, passed) == (0, True)
    assert [c.stage for c in backend.calls].count("judge") == 1  # asked, and it agreed
