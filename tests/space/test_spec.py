from __future__ import annotations

import re

import optuna
import pytest

from accord.space import (
    DIMENSIONS,
    ConfigError,
    PromptLibrary,
    Range,
    RunConfig,
    parse_space,
    preset_params,
    suggest,
)

MODELS = ("a", "b")
PROMPTS = PromptLibrary.load()


def parse(table: dict) -> object:
    return parse_space(table, models=MODELS, prompts=PROMPTS, file="f.toml")


def test_defaults_fill_every_dimension() -> None:
    spec = parse({})
    assert spec.values("coder.model") == ("a",)
    assert spec.values("tester.model") == ("a",)
    assert spec.values("population.size") == (1,)


def test_nested_and_range_tables() -> None:
    spec = parse({"coder": {"model": ["a", "b"], "temperature": {"low": 0.0, "high": 1.0}}})
    assert spec.values("coder.model") == ("a", "b")
    assert spec.domains["coder.temperature"] == Range(low=0.0, high=1.0)


@pytest.mark.parametrize(
    ("table", "fragment"),
    [
        ({"coder": {"modle": ["a"]}}, "space.coder.modle: unknown dimension"),
        ({"coder": {"model": []}}, "space.coder.model: empty list"),
        ({"coder": {"model": ["c"]}}, "space.coder.model: unknown model 'c'"),
        ({"coder": {"prompt": ["nope"]}}, "space.coder.prompt: unknown code template 'nope'"),
        ({"coder": {"temperature": {"low": 1.0, "high": 0.5}}}, "inverted range"),
        ({"population": {"size": [0]}}, "below the minimum"),
        ({"population": {"size": [1.5]}}, "expected an integer"),
        ({"selection": {"rule": ["vote"]}}, "'vote' is not one of"),
        ({"coder": {"model": {"low": 1, "high": 2}}}, "needs a numeric dimension"),
        ({"loop": {"max_rounds": [1, 1]}}, "listed twice"),
        ({"coder": {"model": ["a+c"]}}, "space.coder.model: unknown model 'c'"),
        ({"technique": ["direct", "magic"]}, "space.technique: 'magic' is not one of"),
        ({"repair": {"policy": ["guess"]}}, "space.repair.policy: 'guess' is not one of"),
        ({"fewshot": {"k": {"low": 1, "high": 99}}}, "space.fewshot.k: 99 is above the maximum"),
        ({"loop": {"self_explain": ["yes"]}}, "space.loop.self_explain: expected true or false"),
        ({"repairer": {"prompt": ["nope"]}}, "space.repairer.prompt: unknown repair template 'nope'"),
        ({"tester": {"model": ["coder"]}}, "space.tester.model: unknown model 'coder'"),
    ],
)
def test_invalid_spaces_name_the_key(table: dict, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse(table)
    assert fragment in str(info.value)
    assert str(info.value).startswith("f.toml: space.")


def test_no_models_is_an_error() -> None:
    with pytest.raises(ConfigError, match="at least one model"):
        parse_space({}, models=(), prompts=PROMPTS)


FULL = {
    "coder": {
        "model": ["a", "b", "a+b"],
        "temperature": {"low": 0.0, "high": 1.0},
        "top_p": {"low": 0.8, "high": 1.0},
    },
    "tester": {"model": ["a", "b"], "prompt": ["basic", "edge"]},
    "technique": ["direct", "cot", "plan", "spec", "fewshot"],
    "fewshot": {"k": {"low": 1, "high": 4}},
    "planner": {"model": ["coder", "b"]},
    "population": {"size": [1, 3]},
    "loop": {"max_rounds": {"low": 0, "high": 3}, "self_explain": [False, True]},
    "repair": {"policy": ["code", "reflect", "tests", "both", "blame"]},
    "repairer": {"model": ["coder", "a"]},
    "selection": {"rule": ["majority", "dual_agreement", "first_aligned", "most_passed"]},
}


def test_conditional_parameters_appear_only_in_their_branch() -> None:
    spec = parse(FULL)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen: set[tuple[str, int, int]] = set()
    for _ in range(60):
        trial = study.ask()
        config = suggest(trial, spec)
        params = trial.params
        seen.add((config.technique, config.population > 1, config.max_rounds > 0))
        assert ("selection.rule" in params) == (config.population > 1)
        assert ("fewshot.k" in params) == (config.technique == "fewshot")
        assert ("repair.policy" in params) == ("repairer.model" in params) == (config.max_rounds > 0)
        uses_planner = config.technique in ("plan", "spec") or config.self_explain
        assert ("planner.model" in params) == uses_planner == (config.planner is not None)
        if config.population == 1:
            assert config.selection == "single"
        if config.planner is not None and params["planner.model"] == "coder":
            assert config.planner.model == config.coder.model  # "coder" means the coder's model
        study.tell(trial, 0.0)
    assert {t for t, _, _ in seen} == {"direct", "cot", "plan", "spec", "fewshot"}


@pytest.mark.parametrize(
    "sampler",
    [
        optuna.samplers.TPESampler(seed=1, multivariate=True, group=True),
        optuna.samplers.NSGAIISampler(seed=1, population_size=4),
        optuna.samplers.RandomSampler(seed=1),
    ],
)
def test_space_works_with_samplers(sampler: optuna.samplers.BaseSampler) -> None:
    spec = parse(FULL)
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
    for _ in range(16):
        trial = study.ask()
        config = suggest(trial, spec)
        assert config.coder.model in ("a", "b", "a+b")
        assert 0.0 <= config.coder.temperature <= 1.0 and 0.8 <= config.coder.top_p <= 1.0
        assert 0 <= config.max_rounds <= 3
        assert config.technique != "fewshot" or 1 <= config.fewshot_k <= 4
        study.tell(trial, [config.population / 4, config.max_rounds])
    assert len(study.trials) == 16
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)


def test_presets_expand_to_their_documented_configurations() -> None:
    spec = parse(
        {
            "population": {"size": [1, 5]},
            "loop": {"max_rounds": [0, 2, 5]},
            "technique": ["direct", "cot"],
            "tester": {"prompt": ["basic", "edge"]},
            "repair": {"policy": ["code", "reflect", "both"]},
            "selection": {"rule": ["majority", "dual_agreement"]},
        }
    )

    def config(name: str) -> RunConfig:
        # a preset fixes the method; the rest (models, temperatures) is the sampler's
        rest = {dim: spec.values(dim)[0] for dim in DIMENSIONS}
        return suggest(optuna.trial.FixedTrial(rest | preset_params(name, spec)), spec)

    single = config("single-shot")
    assert (single.population, single.max_rounds, single.technique) == (1, 0, "direct")
    cot = config("cot-sc")
    assert (cot.population, cot.technique, cot.selection, cot.max_rounds) == (5, "cot", "majority", 0)
    codet = config("codet")
    assert (codet.population, codet.selection, codet.max_rounds) == (5, "dual_agreement", 0)
    debug = config("self-debug")
    assert (debug.population, debug.max_rounds, debug.repair) == (1, 5, "code")
    reflexion = config("reflexion")
    assert (reflexion.max_rounds, reflexion.repair) == (5, "reflect")
    agent = config("agentcoder")
    assert (agent.technique, agent.tester.prompt, agent.repair, agent.max_rounds) == (
        "cot",
        "edge",
        "code",
        5,
    )
    seed = config("seed")
    assert (seed.population, seed.max_rounds, seed.repair) == (1, 5, "both")
    # a parameter that does not apply is not enqueued
    assert "selection.rule" not in preset_params("self-debug", spec)
    assert "repair.policy" not in preset_params("codet", spec)


def test_preset_outside_space_is_an_error() -> None:
    spec = parse({"loop": {"max_rounds": [0, 2]}})
    with pytest.raises(ConfigError, match=re.escape("preset 'seed' needs loop.max_rounds = 5")):
        preset_params("seed", spec)
    with pytest.raises(ConfigError, match=re.escape("preset 'cot-sc' needs technique = 'cot'")):
        preset_params("cot-sc", spec)
    with pytest.raises(ConfigError, match="unknown preset"):
        preset_params("magic", spec)
