from __future__ import annotations

import logging
import multiprocessing
from pathlib import Path

import pytest

from accord.runners.llm import Gateway, LLMRequest, Meter, ModelSpec, RawCompletion, ResponseCache, price
from accord.runners.testing import ScriptedBackend
from accord.space import BudgetExceeded

MODELS = {
    "m": ModelSpec(alias="m", model="fake/m", input_cost_per_token=1e-6, output_cost_per_token=3e-6),
    "alias2": ModelSpec(
        alias="alias2", model="fake/m", input_cost_per_token=1e-6, output_cost_per_token=3e-6
    ),
}


def request(sample: int = 0, text: str = "hello world", model: str = "m") -> LLMRequest:
    return LLMRequest(model=model, messages=({"role": "user", "content": text},), sample=sample, role="coder")


def gateway(tmp_path: Path, backend: ScriptedBackend) -> Gateway:
    return Gateway(MODELS, backend, cache=ResponseCache(tmp_path / "cache.sqlite"))


def test_cache_hit_miss_and_sample_index(tmp_path: Path) -> None:
    backend = ScriptedBackend(lambda r: f"answer {r.sample}")
    gw = gateway(tmp_path, backend)
    first = gw.complete(request(0))
    again = gw.complete(request(0))
    other_sample = gw.complete(request(1))
    assert (first.cached, again.cached, other_sample.cached) == (False, True, False)
    assert again.text == first.text == "answer 0" and other_sample.text == "answer 1"
    assert len(backend.calls) == 2
    # The cache keys on the model, not the alias: a renamed alias still hits.
    assert gw.complete(request(0, model="alias2")).cached
    # A different prompt misses.
    assert not gw.complete(request(0, text="other")).cached


def test_cache_survives_processes_and_is_shared(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_fill, args=(path, worker)) for worker in range(2)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    backend = ScriptedBackend(lambda r: "fresh")
    gw = Gateway(MODELS, backend, cache=ResponseCache(path))
    for sample in range(40):
        assert gw.complete(request(sample)).text == f"proc-answer {sample}"
    assert backend.calls == []


def _fill(path: Path, worker: int) -> None:
    gw = Gateway(MODELS, ScriptedBackend(lambda r: f"proc-answer {r.sample}"), cache=ResponseCache(path))
    order = range(40) if worker == 0 else reversed(range(40))
    for sample in order:
        gw.complete(request(sample))


def test_cost_arithmetic_and_override() -> None:
    raw = RawCompletion(text="x", prompt_tokens=100, completion_tokens=10, cost_usd=9.0)
    assert price(MODELS["m"], raw) == pytest.approx(100 * 1e-6 + 10 * 3e-6)
    assert price(ModelSpec(alias="h", model="openai/x"), raw) == 9.0  # provider price when no override
    assert (
        price(
            ModelSpec(alias="h", model="openai/x"),
            RawCompletion(text="", prompt_tokens=1, completion_tokens=1),
        )
        == 0.0
    )


def test_meter_units_spent_and_cached(tmp_path: Path) -> None:
    gw = gateway(tmp_path, ScriptedBackend(lambda r: "one two three"))
    meter = Meter(unit="usd")
    first = gw.complete(request(), meter=meter)
    gw.complete(request(), meter=meter)  # cache hit: costs the configuration, not the user
    expected = 2 * (2 * 1e-6 + 3 * 3e-6)
    assert meter.cost == pytest.approx(expected)
    assert meter.spent_usd == pytest.approx(expected / 2)
    assert (meter.calls, meter.cache_hits, meter.prompt_tokens, meter.completion_tokens) == (2, 1, 4, 6)
    assert meter.by_role == {"coder": pytest.approx(expected)}
    tokens = Meter(unit="tokens")
    gw.complete(request(), meter=tokens)
    assert tokens.cost == first.tokens == 5


def test_meter_cap_refuses_calls_once_reached(tmp_path: Path) -> None:
    backend = ScriptedBackend(lambda r: "a b c d e f g h i j")
    gw = gateway(tmp_path, backend)
    meter = Meter(unit="tokens", cap=25)
    gw.complete(request(0), meter=meter)
    gw.complete(request(1), meter=meter)  # 24 tokens: still under the cap
    gw.complete(request(2), meter=meter)  # crosses it: this call is the overspend
    with pytest.raises(BudgetExceeded, match="cost cap of 25 tokens"):
        gw.complete(request(3), meter=meter)
    assert len(backend.calls) == 3


def test_a_cached_answer_costs_what_the_study_charges_now(tmp_path: Path) -> None:
    """The cache keeps tokens, not prices: a hit is priced at today's study price."""
    backend = ScriptedBackend(lambda r: "three word answer")
    cache = ResponseCache(tmp_path / "cache.sqlite")
    cheap = ModelSpec(alias="m", model="fake/m", input_cost_per_token=1e-8, output_cost_per_token=2e-8)
    dear = ModelSpec(alias="m", model="fake/m", input_cost_per_token=1e-6, output_cost_per_token=2e-6)
    first = Gateway({"m": cheap}, backend, cache=cache).complete(request())
    hit = Gateway({"m": dear}, backend, cache=cache).complete(request())
    assert hit.cached and len(backend.calls) == 1
    assert hit.cost_usd == pytest.approx(first.cost_usd * 100)
    assert hit.cost_usd == pytest.approx(hit.prompt_tokens * 1e-6 + hit.completion_tokens * 2e-6)


def test_a_lone_samples_tests_are_measurement_not_cost(tmp_path: Path) -> None:
    """Single-shot: one model call a task in the objective; its tester call only measures."""
    import json

    from accord.runners.loop.members import LoopContext
    from accord.runners.loop.population import run_population
    from accord.runners.sandbox import Sandbox
    from accord.runners.tasks.load import load_user_file
    from accord.space import PromptLibrary, RoleConfig, RunConfig
    from tests.helpers import TASKS, solving_script

    path = tmp_path / "tasks.jsonl"
    path.write_text("".join(json.dumps(t) + "\n" for t in TASKS))
    backend = ScriptedBackend(solving_script())
    models = {
        "good": ModelSpec(
            alias="good", model="fake/good", input_cost_per_token=1e-6, output_cost_per_token=1e-6
        )
    }
    single = RunConfig(
        coder=RoleConfig(model="good", prompt="direct", temperature=0.0),
        tester=RoleConfig(model="good", prompt="basic", temperature=0.0),
        population=1, max_rounds=0, selection="single",
    )  # fmt: skip
    with Sandbox(workers=1) as sandbox:
        meter = Meter(unit="tokens")
        ctx = LoopContext(
            gateway=Gateway(models, backend), executor=sandbox, prompts=PromptLibrary.load(), meter=meter
        )
        outcome = run_population(load_user_file(path)[0], single, ctx)
    assert sorted(call.role for call in backend.calls) == ["coder", "tester"] and outcome.aligned
    assert meter.calls == 2 and meter.by_role["coder"] == meter.cost > 0
    assert meter.measure_cost == meter.by_role["tester"] > 0
    assert outcome.cost == meter.cost  # the task's cost is the one call that made its answer


def test_a_tasks_meter_charges_its_trial_and_obeys_the_trials_cap() -> None:
    from accord.runners.llm.records import Completion
    from accord.space.errors import BudgetExceeded

    trial = Meter(unit="tokens", cap=150)
    task = trial.child()
    answer = Completion(
        text="x", prompt_tokens=60, completion_tokens=40, cost_usd=0.0, seconds=0.0, cached=False
    )
    with task.admission():
        task.charge(answer, "coder", "code")
    assert task.total == trial.total == 100 and task.calls == trial.calls == 1
    with trial.child().admission():  # another task's call: 100 spent, 150 allowed
        trial.charge(answer, "coder", "code")
    with pytest.raises(BudgetExceeded), task.admission():
        pass


def test_an_unpriced_call_is_counted_and_warned_of_once_per_model(caplog: pytest.LogCaptureFixture) -> None:
    def unpriced(spec: ModelSpec, request: LLMRequest) -> RawCompletion:
        return RawCompletion(text="x", prompt_tokens=10, completion_tokens=5)  # no price from anywhere

    models = {
        "free": ModelSpec(alias="free", model="openai/nobody-knows"),
        "paid": ModelSpec(alias="paid", model="openai/nobody-knows-2", input_cost_per_token=1e-6),
    }
    gateway = Gateway(models, unpriced)
    meter = Meter(unit="usd")
    with caplog.at_level(logging.WARNING):
        for sample in range(3):
            for alias in models:
                request = LLMRequest(model=alias, messages=({"role": "user", "content": "q"},), sample=sample)
                gateway.complete(request, meter=meter)
    assert meter.unpriced_calls == 3 and meter.calls == 6
    assert meter.cost == pytest.approx(3 * 10 * 1e-6)
    warnings = [r.getMessage() for r in caplog.records if "no known price" in r.getMessage()]
    assert len(warnings) == 1 and "models.free.input_cost_per_token" in warnings[0]
