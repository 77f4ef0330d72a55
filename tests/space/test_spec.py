from __future__ import annotations

import re

import optuna
import pytest

from accord.space import (
    ConfigError,
    PromptLibrary,
    Range,
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


def test_selection_rule_only_in_population_branch() -> None:
    spec = parse({"population": {"size": [1, 3]}, "selection": {"rule": ["majority", "first_aligned"]}})
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen_sizes = set()
    for _ in range(20):
        trial = study.ask()
        config = suggest(trial, spec)
        seen_sizes.add(config.population)
        assert ("selection.rule" in trial.params) == (config.population > 1)
        if config.population == 1:
            assert config.selection == "single"
        study.tell(trial, 0.0)
    assert seen_sizes == {1, 3}


@pytest.mark.parametrize(
    "sampler",
    [
        optuna.samplers.TPESampler(seed=1, multivariate=True),
        optuna.samplers.NSGAIISampler(seed=1, population_size=4),
        optuna.samplers.RandomSampler(seed=1),
    ],
)
def test_space_works_with_samplers(sampler: optuna.samplers.BaseSampler) -> None:
    spec = parse(
        {
            "coder": {"model": ["a", "b"], "temperature": {"low": 0.0, "high": 1.0}},
            "population": {"size": [1, 2, 4]},
            "loop": {"max_rounds": {"low": 0, "high": 3}},
        }
    )
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
    for _ in range(12):
        trial = study.ask()
        config = suggest(trial, spec)
        assert config.coder.model in ("a", "b")
        assert 0.0 <= config.coder.temperature <= 1.0
        assert 0 <= config.max_rounds <= 3
        study.tell(trial, [config.population / 4, config.max_rounds])
    assert len(study.trials) == 12


def test_presets_adapt_to_space_maximum() -> None:
    spec = parse(
        {
            "population": {"size": [1, 5]},
            "loop": {"max_rounds": [0, 2]},
            "coder": {"prompt": ["direct", "cot"]},
        }
    )
    assert preset_params("single-shot", spec) == {
        "population.size": 1,
        "loop.max_rounds": 0,
        "coder.prompt": "direct",
    }
    assert preset_params("self-debug", spec)["loop.max_rounds"] == 2
    cot = preset_params("cot-sc", spec)
    assert cot["population.size"] == 5 and cot["selection.rule"] == "majority"


def test_preset_outside_space_is_an_error() -> None:
    spec = parse({"loop": {"max_rounds": [0, 2]}})
    with pytest.raises(ConfigError, match=re.escape("preset 'seed' needs loop.max_rounds = 5")):
        preset_params("seed", spec)
    with pytest.raises(ConfigError, match="unknown preset"):
        preset_params("magic", spec)
