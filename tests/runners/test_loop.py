from __future__ import annotations

from pathlib import Path

import pytest

from accord.runners.llm import Gateway, LLMRequest, Meter, ModelSpec, ResponseCache
from accord.runners.loop import LoopContext, run_member
from accord.runners.population import run_population
from accord.runners.run import run_config
from accord.runners.sandbox import Sandbox
from accord.runners.tasks import load_tasks
from accord.runners.testing import ScriptedBackend, by_role, fenced
from accord.space import PromptLibrary, RoleConfig, RunConfig
from tests.conftest import BAD_CODE, GOOD_CODE, GOOD_TESTS, entry_of, solving_script

MODELS = {name: ModelSpec(alias=name, model=f"fake/{name}") for name in ("good", "bad")}


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    return Sandbox()


def config(
    model: str = "good", *, population: int = 1, rounds: int = 0, selection: str = "single"
) -> RunConfig:
    return RunConfig(
        coder=RoleConfig(model=model, prompt="direct", temperature=0.0),
        tester=RoleConfig(model="good", prompt="basic", temperature=0.0),
        population=population,
        max_rounds=rounds,
        selection=selection,
    )


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


def test_aligned_on_first_round(tmp_path: Path, tasks: tuple, sandbox: Sandbox) -> None:
    backend = ScriptedBackend(solving_script())
    member = run_member(tasks[0], config(rounds=3), context(tmp_path, backend, sandbox), 0)
    assert member.aligned and member.rounds == 0 and member.tests_valid
    assert [r.role for r in backend.calls] == ["coder", "tester"]


def test_fixed_after_feedback(tmp_path: Path, tasks: tuple, sandbox: Sandbox) -> None:
    backend = ScriptedBackend(solving_script())
    ctx = context(tmp_path, backend, sandbox)
    member = run_member(tasks[0], config("bad", rounds=2), ctx, 0)
    assert member.aligned and member.rounds == 1
    repair = backend.calls[-1]
    assert repair.role == "repair" and repair.model == "bad"
    feedback = repair.messages[-1]["content"]
    assert "assert add(2, 3) == 5" in feedback and "failed" in feedback and "return a - b" in feedback


def test_no_repair_rounds_means_single_shot(tmp_path: Path, tasks: tuple, sandbox: Sandbox) -> None:
    backend = ScriptedBackend(solving_script())
    member = run_member(tasks[0], config("bad", rounds=0), context(tmp_path, backend, sandbox), 0)
    assert not member.aligned and len(backend.calls) == 2


def test_degenerate_tests_are_rejected_and_regenerated(
    tmp_path: Path, tasks: tuple, sandbox: Sandbox
) -> None:
    def tester(request: LLMRequest) -> str:
        if request.sample == 0:  # a stub returning its first argument passes all of these
            return fenced("assert rev('a') == 'a'\nassert rev('') == ''\nassert rev('aa') == 'aa'")
        return fenced(GOOD_TESTS[entry_of(request)])

    backend = ScriptedBackend(by_role({"coder": fenced(GOOD_CODE["rev"]), "tester": tester}))
    ctx = context(tmp_path, backend, sandbox)
    single = run_member(tasks[1], config(rounds=0), ctx, 0)
    assert not single.tests_valid and not single.aligned  # passing degenerate tests is not alignment
    repaired = run_member(tasks[1], config(rounds=1), ctx, 0)
    assert repaired.tests_valid and repaired.aligned and repaired.rounds == 1
    assert backend.calls[-1].role == "tester" and backend.calls[-1].sample == 1000


def test_too_few_asserts_are_degenerate(tmp_path: Path, tasks: tuple, sandbox: Sandbox) -> None:
    backend = ScriptedBackend(
        by_role({"coder": fenced(GOOD_CODE["add"]), "tester": fenced("assert add(2, 3) == 5")})
    )
    member = run_member(tasks[0], config(), context(tmp_path, backend, sandbox), 0)
    assert member.tests == ("assert add(2, 3) == 5",) and not member.tests_valid and not member.aligned


def test_malformed_outputs_fail_without_crashing(tmp_path: Path, tasks: tuple, sandbox: Sandbox) -> None:
    backend = ScriptedBackend(by_role({"coder": "I'm sorry, I can't do that.", "tester": "```\n}}}\n```"}))
    ctx = context(tmp_path, backend, sandbox)
    member = run_member(tasks[0], config(rounds=1), ctx, 0)
    assert member.code is None and member.tests == () and not member.aligned
    outcome = run_population(tasks[0], config(rounds=1), ctx)
    assert outcome.code is None and outcome.hidden_passed is False and outcome.selected is None


def test_population_majority_outvotes_a_wrong_minority(
    tmp_path: Path, tasks: tuple, sandbox: Sandbox
) -> None:
    def coder(request: LLMRequest) -> str:
        return fenced((BAD_CODE if request.sample == 0 else GOOD_CODE)[entry_of(request)])

    backend = ScriptedBackend(by_role({"coder": coder, "tester": lambda r: fenced(GOOD_TESTS[entry_of(r)])}))
    outcome = run_population(
        tasks[0], config(population=3, selection="majority"), context(tmp_path, backend, sandbox)
    )
    assert outcome.selected == 1 and outcome.aligned and outcome.hidden_passed


def test_false_alignment_is_detected(tmp_path: Path, tasks: tuple, sandbox: Sandbox) -> None:
    wrong_tests = "assert add(2, 3) == -1\nassert add(5, 1) == 4\nassert add(0, 7) == -7"
    backend = ScriptedBackend(by_role({"coder": fenced(BAD_CODE["add"]), "tester": fenced(wrong_tests)}))
    result = run_config(tasks[:1], config(), context(tmp_path, backend, sandbox), pass_source="hidden")
    assert result.alignment_rate == 1.0 and result.pass_rate == 0.0 and result.false_alignment_rate == 1.0
    aligned = run_config(tasks[:1], config(), context(tmp_path, backend, sandbox), pass_source="alignment")
    assert aligned.pass_rate == 1.0


def test_budget_exhausted_mid_run_stops_cleanly(tmp_path: Path, tasks: tuple, sandbox: Sandbox) -> None:
    backend = ScriptedBackend(solving_script())
    ctx = context(tmp_path, backend, sandbox, cap=50)
    result = run_config(tasks, config(), ctx, pass_source="hidden")
    assert result.stopped.startswith("budget")
    assert len(result.outcomes) < len(tasks)
    assert result.pass_rate == sum(bool(o.hidden_passed) for o in result.outcomes) / len(tasks)
