from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from accord.runners.llm import Gateway, LLMRequest, Meter, ModelSpec, ResponseCache
from accord.runners.loop.members import LoopContext
from accord.runners.loop.population import run_population
from accord.runners.loop.repairs import blame
from accord.runners.loop.rounds import run_loops
from accord.runners.loop.transcript import ExecuteEvent, MemoryTranscript
from accord.runners.run import run_config
from accord.runners.sandbox import Sandbox
from accord.runners.tasks.load import load_tasks
from accord.runners.testing import ScriptedBackend, by_role, fenced
from accord.space import PromptLibrary, RoleConfig, RunConfig
from tests.helpers import BAD_CODE, GOOD_CODE, GOOD_TESTS, entry_of, solving_script

MODELS = {name: ModelSpec(alias=name, model=f"fake/{name}") for name in ("good", "bad")}
WRONG_ADD_TEST = "assert add(2, 2) == 5"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as box:
        yield box


def config(model: str = "good", *, population: int = 1, rounds: int = 0, **changes: object) -> RunConfig:
    base = RunConfig(
        coder=RoleConfig(model=model, prompt="direct", temperature=0.0),
        tester=RoleConfig(model="good", prompt="basic", temperature=0.0),
        population=population,
        max_rounds=rounds,
        selection="single" if population == 1 else "majority",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def context(
    tmp_path: Path, backend: ScriptedBackend, sandbox: Sandbox, cap: float | None = None
) -> LoopContext:
    gw = Gateway(MODELS, backend, cache=ResponseCache(tmp_path / "c.sqlite"))
    return LoopContext(
        gateway=gw, executor=sandbox, prompts=PromptLibrary.load(), meter=Meter(unit="tokens", cap=cap)
    )


@pytest.fixture
def tasks(task_file: Path) -> tuple:
    return load_tasks(str(task_file))


def stages(backend: ScriptedBackend) -> list[str]:
    """The stages called, in order; a member's first code and tests go out together, in
    either order, so such a pair is listed code first."""
    called = [r.stage for r in backend.calls]
    i = 0
    while i < len(called) - 1:
        if set(called[i : i + 2]) == {"code", "tests"}:
            called[i : i + 2] = ["code", "tests"]
            i += 1
        i += 1
    return called


def test_aligned_on_first_round(tmp_path: Path, tasks: tuple, sandbox: Sandbox) -> None:
    backend = ScriptedBackend(solving_script())
    [member] = run_loops(tasks[0], config(rounds=3), context(tmp_path, backend, sandbox))
    assert member.aligned and member.rounds == 0 and member.tests_valid
    # code and tests go out together, in either order
    assert sorted((r.role, r.stage) for r in backend.calls) == [("coder", "code"), ("tester", "tests")]
    [tester] = [r for r in backend.calls if r.role == "tester"]
    assert "return a" not in tester.messages[-1]["content"]  # the tester never sees code


def test_fixed_after_feedback(tmp_path: Path, tasks: tuple, sandbox: Sandbox) -> None:
    backend = ScriptedBackend(solving_script())
    ctx = context(tmp_path, backend, sandbox)
    [member] = run_loops(tasks[0], config("bad", rounds=2), ctx)
    assert member.aligned and member.rounds == 1
    repair = backend.calls[-1]
    assert (repair.role, repair.stage, repair.model) == ("repairer", "repair", "bad")
    feedback = repair.messages[-1]["content"]
    assert "assert add(2, 3) == 5" in feedback and "failed" in feedback and "return a - b" in feedback
    assert ctx.meter.by_stage["repair"] > 0 and set(ctx.meter.by_role) == {"coder", "tester", "repairer"}
    assert sum(ctx.meter.by_stage.values()) == pytest.approx(ctx.meter.cost)


def test_reflexion_reflects_before_repairing(tmp_path: Path, tasks: tuple, sandbox: Sandbox) -> None:
    reflection = "The code subtracts where the task asks to add."

    def repairer(request: LLMRequest) -> str:
        return reflection if request.stage == "reflect" else fenced(GOOD_CODE["add"])

    script = by_role(
        {"coder": fenced(BAD_CODE["add"]), "tester": fenced(GOOD_TESTS["add"]), "repairer": repairer}
    )
    backend = ScriptedBackend(script)
    [member] = run_loops(tasks[0], config(rounds=2, repair="reflect"), context(tmp_path, backend, sandbox))
    assert member.aligned and stages(backend) == ["code", "tests", "reflect", "repair"]
    assert reflection in backend.calls[-1].messages[-1]["content"]


def test_no_repair_rounds_means_single_shot(tmp_path: Path, tasks: tuple, sandbox: Sandbox) -> None:
    backend = ScriptedBackend(solving_script())
    [member] = run_loops(tasks[0], config("bad", rounds=0), context(tmp_path, backend, sandbox))
    assert not member.aligned and len(backend.calls) == 2


def wrong_test_script(request: LLMRequest) -> str:
    """Correct coders; member 0's tester writes one wrong assert, the others are right."""
    if request.role == "tester":
        wrong = request.sample == 0
        return fenced(GOOD_TESTS["add"] + (f"\n{WRONG_ADD_TEST}" if wrong else ""))
    return fenced(GOOD_CODE["add"])


def test_a_wrong_test_is_dropped_through_blame(tmp_path: Path, tasks: tuple, sandbox: Sandbox) -> None:
    backend = ScriptedBackend(wrong_test_script)
    members = run_loops(
        tasks[0], config(population=3, rounds=1, repair="blame"), context(tmp_path, backend, sandbox)
    )
    assert all(m.aligned for m in members)
    assert WRONG_ADD_TEST not in members[0].tests and len(members[0].tests) == 3
    assert len(backend.calls) == 6  # the code was right: blame cost no model call


def test_without_blame_the_wrong_test_drives_a_code_repair(
    tmp_path: Path, tasks: tuple, sandbox: Sandbox
) -> None:
    backend = ScriptedBackend(wrong_test_script)
    members = run_loops(
        tasks[0], config(population=3, rounds=1, repair="code"), context(tmp_path, backend, sandbox)
    )
    assert not members[0].aligned and members[1].aligned
    assert [r.stage for r in backend.calls[6:]] == ["repair"]


def test_blame_needs_agreeing_peers() -> None:
    union = ("t1", "t2", "t3")
    # two peers agree and fail t3: member's failing t3 is suspect, t2 is not
    assert blame(("t1", "t2", "t3"), ("t2", "t3"), [(True, True, False)] * 2, union) == ("t3",)
    # peers that disagree with each other blame nothing
    assert blame(("t3",), ("t3",), [(True, True, False), (True, False, False)], union) == ()


def test_tests_policy_regenerates_the_tests(tmp_path: Path, tasks: tuple, sandbox: Sandbox) -> None:
    backend = ScriptedBackend(wrong_test_script)
    [member] = run_loops(tasks[0], config(rounds=1, repair="tests"), context(tmp_path, backend, sandbox))
    assert member.aligned and stages(backend) == ["code", "tests", "tests"]
    assert backend.calls[-1].sample == 1000


def test_both_policy_regenerates_tests_and_repairs_code(
    tmp_path: Path, tasks: tuple, sandbox: Sandbox
) -> None:
    backend = ScriptedBackend(solving_script())
    [member] = run_loops(
        tasks[0], config("bad", rounds=1, repair="both"), context(tmp_path, backend, sandbox)
    )
    assert member.aligned and sorted(stages(backend)[2:]) == ["repair", "tests"]


def test_degenerate_tests_are_rejected_and_regenerated(
    tmp_path: Path, tasks: tuple, sandbox: Sandbox
) -> None:
    def tester(request: LLMRequest) -> str:
        if request.sample == 0:  # a stub returning its first argument passes all of these
            return fenced("assert rev('a') == 'a'\nassert rev('') == ''\nassert rev('aa') == 'aa'")
        return fenced(GOOD_TESTS[entry_of(request)])

    backend = ScriptedBackend(by_role({"coder": fenced(GOOD_CODE["rev"]), "tester": tester}))
    ctx = context(tmp_path, backend, sandbox)
    [single] = run_loops(tasks[1], config(rounds=0), ctx)
    assert not single.tests_valid and not single.aligned  # passing degenerate tests is not alignment
    [repaired] = run_loops(tasks[1], config(rounds=1), ctx)
    assert repaired.tests_valid and repaired.aligned and repaired.rounds == 1
    assert backend.calls[-1].role == "tester" and backend.calls[-1].sample == 1000


def test_too_few_asserts_are_degenerate(tmp_path: Path, tasks: tuple, sandbox: Sandbox) -> None:
    backend = ScriptedBackend(
        by_role({"coder": fenced(GOOD_CODE["add"]), "tester": fenced("assert add(2, 3) == 5")})
    )
    [member] = run_loops(tasks[0], config(), context(tmp_path, backend, sandbox))
    assert member.tests == ("assert add(2, 3) == 5",) and not member.tests_valid and not member.aligned


def test_malformed_outputs_fail_without_crashing(tmp_path: Path, tasks: tuple, sandbox: Sandbox) -> None:
    backend = ScriptedBackend(by_role({"coder": "I'm sorry, I can't do that.", "tester": "```\n}}}\n```"}))
    ctx = context(tmp_path, backend, sandbox)
    [member] = run_loops(tasks[0], config(rounds=1), ctx)
    assert member.code is None and member.tests == () and not member.aligned
    assert stages(backend)[2:] == ["code", "tests"]  # both regenerated as new samples
    for selection in ("single", "majority", "dual_agreement", "most_passed", "first_aligned"):
        population = 1 if selection == "single" else 2
        outcome = run_population(tasks[0], config(rounds=1, population=population, selection=selection), ctx)
        assert outcome.code is None and outcome.hidden_passed is False and outcome.selected is None


@pytest.mark.parametrize(("technique", "stage"), [("plan", "plan"), ("spec", "spec")])
def test_plan_and_spec_come_first_and_condition_the_code(
    tmp_path: Path, tasks: tuple, sandbox: Sandbox, technique: str, stage: str
) -> None:
    note = f"THE {stage.upper()}: add the two numbers"
    script = solving_script()
    backend = ScriptedBackend(lambda r: note if r.role == "planner" else script(r))
    planner = RoleConfig(model="bad", prompt="default", temperature=0.0)
    [member] = run_loops(
        tasks[0], config(technique=technique, planner=planner), context(tmp_path, backend, sandbox)
    )
    assert member.aligned and stages(backend) == [stage, "code", "tests"]
    assert backend.calls[0].model == "bad"
    code, tests = sorted(backend.calls[1:3], key=lambda c: c.stage)  # asked side by side
    assert note in code.messages[-1]["content"]
    tester_sees_it = note in tests.messages[-1]["content"]
    assert tester_sees_it == (technique == "spec")  # a spec is shared, a plan is the coder's


def test_fewshot_and_cot_shape_the_prompts(tmp_path: Path, tasks: tuple, sandbox: Sandbox) -> None:
    backend = ScriptedBackend(solving_script())
    ctx = context(tmp_path, backend, sandbox)
    run_loops(tasks[0], config(technique="fewshot", fewshot_k=2), ctx)
    first = sorted(backend.calls[:2], key=lambda c: c.stage)  # code, then tests
    code_prompt, tests_prompt = (c.messages[-1]["content"] for c in first)
    assert code_prompt.count("Task:") == 2 and "def initials" in code_prompt
    assert (
        "assert initials('ada lovelace') == 'A.L.'" in tests_prompt and "part[0].upper()" not in tests_prompt
    )
    run_loops(tasks[0], config(technique="cot"), ctx)
    code, tests = sorted(backend.calls[2:4], key=lambda c: c.stage)
    assert "step by step" in code.messages[-1]["content"]
    assert "step by step" not in tests.messages[-1]["content"]


def test_self_explanation_mismatch_is_repaired(tmp_path: Path, tasks: tuple, sandbox: Sandbox) -> None:
    # The tests are too weak to tell: the code passes them but the check says NO once.
    def planner(request: LLMRequest) -> str:
        text = request.messages[-1]["content"]
        if request.stage == "explain":
            return "It returns the sum." if "return a + b" in text else "It returns 5 unless both are 0."
        return "YES, it adds." if "returns the sum" in text else "NO: it ignores its inputs."

    weak_code = "def add(a, b):\n    return 0 if a == b == 0 else 5"
    script = by_role(
        {
            "coder": fenced(weak_code),
            "tester": fenced(GOOD_TESTS["add"]),
            "planner": planner,
            "repairer": fenced(GOOD_CODE["add"]),
        }
    )
    backend = ScriptedBackend(script)
    [member] = run_loops(tasks[0], config(rounds=2, self_explain=True), context(tmp_path, backend, sandbox))
    assert member.aligned
    assert stages(backend) == ["code", "tests", "explain", "check", "repair", "explain", "check"]
    assert "does not match the task" in backend.calls[4].messages[-1]["content"]


def test_ensembles_take_turns(tmp_path: Path, tasks: tuple, sandbox: Sandbox) -> None:
    backend = ScriptedBackend(solving_script())
    members = run_loops(tasks[0], config("good+bad", population=4), context(tmp_path, backend, sandbox))
    assert [m.model for m in members] == ["good", "bad", "good", "bad"]
    assert [m.aligned for m in members] == [True, False, True, False]


def test_behavioural_majority_outvotes_a_wrong_minority(
    tmp_path: Path, tasks: tuple, sandbox: Sandbox
) -> None:
    def coder(request: LLMRequest) -> str:
        return fenced((BAD_CODE if request.sample == 0 else GOOD_CODE)[entry_of(request)])

    backend = ScriptedBackend(by_role({"coder": coder, "tester": lambda r: fenced(GOOD_TESTS[entry_of(r)])}))
    outcome = run_population(tasks[0], config(population=3), context(tmp_path, backend, sandbox))
    assert outcome.selected == 1 and outcome.aligned and outcome.hidden_passed
    assert outcome.aligned_members == 2 and outcome.calls == 6


def test_majority_compares_outputs_not_verdicts(tmp_path: Path, tasks: tuple, sandbox: Sandbox) -> None:
    # Two wrong candidates fail the same tests but disagree on every output; the right
    # ones agree. Pass vectors would group the wrong pair; outputs do not.
    codes = [
        "def add(a, b):\n    return a - b",
        "def add(a, b):\n    return a * b + 1",
        GOOD_CODE["add"],
        "def add(a, b):\n    return b + a",
    ]
    weak_tests = "assert add(2, 3) == 5\nassert add(0, 0) == 0\nassert add(-2, 7) == 5"
    backend = ScriptedBackend(
        by_role({"coder": lambda r: fenced(codes[r.sample]), "tester": fenced(weak_tests)})
    )
    outcome = run_population(tasks[0], config(population=4), context(tmp_path, backend, sandbox))
    assert outcome.selected == 2 and outcome.hidden_passed


def test_false_alignment_is_detected(tmp_path: Path, tasks: tuple, sandbox: Sandbox) -> None:
    wrong_tests = "assert add(2, 3) == -1\nassert add(5, 1) == 4\nassert add(0, 7) == -7"
    backend = ScriptedBackend(by_role({"coder": fenced(BAD_CODE["add"]), "tester": fenced(wrong_tests)}))
    result = run_config(tasks[:1], config(), context(tmp_path, backend, sandbox), pass_source="hidden")
    assert result.alignment_rate == 1.0 and result.pass_rate == 0.0 and result.false_alignment_rate == 1.0
    aligned = run_config(tasks[:1], config(), context(tmp_path, backend, sandbox), pass_source="alignment")
    assert aligned.pass_rate == 1.0


def test_budget_exhausted_mid_loop_stops_cleanly(tmp_path: Path, tasks: tuple, sandbox: Sandbox) -> None:
    backend = ScriptedBackend(solving_script())
    # the first code and tests of task 1 cost about 180 tokens: the cap falls before the repair
    ctx = context(tmp_path, backend, sandbox, cap=150)
    ctx.tasks_in_flight = 1  # one task at a time: the second task never starts
    ctx.transcript = transcript = MemoryTranscript()
    result = run_config(tasks, config("bad", rounds=5), ctx, pass_source="hidden")
    assert result.stopped.startswith("budget") and result.outcomes == ()
    assert stages(backend) == ["code", "tests"]  # the repair round was refused
    assert [e.round for e in transcript.of(ExecuteEvent)] == [0]
    assert result.pass_rate == 0.0


@pytest.mark.parametrize(
    ("tests", "code"),
    [
        # type checks pin no output: `return a * b` passes them
        (
            "assert isinstance(add(1, 2), int)\nassert isinstance(add(3, 4), int)\nassert isinstance(add(5, 6), int)",
            "return a * b",
        ),
        # three rewordings of one call are one call
        ("assert add(2, 3) == 5\nassert add(2, 3) > 4\nassert not add(2, 3) != 5", "return 5"),
        # every assert expects the same value: a constant function passes them all
        ("assert add(2, 3) == 5\nassert add(1, 4) == 5\nassert add(0, 5) == 5", "return 5"),
    ],
)
def test_weak_test_sets_do_not_align(
    tmp_path: Path, tasks: tuple, sandbox: Sandbox, tests: str, code: str
) -> None:
    script = by_role({"coder": fenced(f"def add(a, b):\n    {code}"), "tester": fenced(tests)})
    [member] = run_loops(tasks[0], config(), context(tmp_path, ScriptedBackend(script), sandbox))
    assert member.result is not None and member.result.all_passed  # the wrong code passes them...
    assert not member.tests_valid and not member.aligned  # ...so they prove nothing


def test_selection_answers_whenever_a_member_has_code(tmp_path: Path, tasks: tuple, sandbox: Sandbox) -> None:
    """Members with code but no usable tests: first_aligned used to return no answer."""
    script = by_role({"coder": fenced(GOOD_CODE["add"]), "tester": "I cannot write tests for this."})
    ctx = context(tmp_path, ScriptedBackend(script), sandbox)
    for rule in ("first_aligned", "most_passed", "majority", "dual_agreement", "dual_agreement_linear"):
        outcome = run_population(tasks[0], config(population=3, selection=rule), ctx)
        assert outcome.selected == 0 and outcome.hidden_passed, rule


def test_tasks_in_flight_each_count_their_own_calls(tmp_path: Path, tasks: tuple, sandbox: Sandbox) -> None:
    backend = ScriptedBackend(solving_script())
    ctx = context(tmp_path, backend, sandbox)
    result = run_config(tasks, config("bad", population=3, rounds=1), ctx, pass_source="hidden")
    # the two tasks ran side by side on one trial meter: each outcome holds only its own calls
    assert [o.calls for o in result.outcomes] == [9, 9]  # 3 code, 3 tests, 3 repairs each
    assert sum(o.calls for o in result.outcomes) == ctx.meter.calls == len(backend.calls)
    assert sum(o.cost for o in result.outcomes) == pytest.approx(result.cost)
