"""Presets are the methods they are named after: complete fixed points of the space, once
per coder model, whatever else the study searches."""

from __future__ import annotations

import optuna
import pytest

from accord.space import DIMENSIONS, ConfigError, PromptLibrary, parse_space, preset_trials, suggest
from accord.space.presets import PRESETS, is_free

MODELS = ("a", "b")
# every dimension searched, every neutral value allowed
EVERYTHING = {
    "coder": {
        "model": ["a", "b", "a+b", "a>b"],
        "prompt": ["careful", "direct"],
        "temperature": {"low": 0.0, "high": 1.0},
    },
    "tester": {"model": ["b", "a"], "prompt": ["edge", "basic"], "temperature": {"low": 0.0, "high": 1.0}},
    "technique": ["plan", "direct", "cot", "spec", "fewshot"],
    "fewshot": {"k": {"low": 1, "high": 4}},
    "planner": {"model": ["b", "coder"]},
    "population": {"size": [3, 1, 20, 5], "adaptive": [True, False]},
    "tests": {"samples": [3, 0, 10]},
    "loop": {"max_rounds": [2, 0, 5], "self_explain": [True, False]},
    "repair": {"policy": ["blame", "code", "reflect", "tests", "both"]},
    "repairer": {"model": ["a", "coder"]},
    "selection": {
        "rule": ["first_aligned", "clusters", "majority", "dual_agreement"],
        "distinguish": [True, False],
    },
    "cascade": {
        "gate": ["aligned", "share"],
        "threshold": [0.9, 0.6],
        "pool": [True, False],
        "last_population": [0, 3],
    },
}
NEUTRAL = {"coder.prompt": "direct", "tester.prompt": "basic", "loop.self_explain": False}
REPAIR = {"repairer.model": "coder", "repairer.prompt": "feedback"}
FIXED_POPULATION = {"selection.distinguish": False, "population.adaptive": False, "tests.samples": 0}
# The documented dicts (README's preset table), for coder model "a"; the tester follows it.
DOCUMENTED = {
    "single-shot": {"technique": "direct", "population.size": 1, "loop.max_rounds": 0},
    "cot-sc": {
        "technique": "cot", "population.size": 20, "loop.max_rounds": 0, "selection.rule": "majority",
        **FIXED_POPULATION,
    },
    "codet": {
        "technique": "direct", "population.size": 20, "loop.max_rounds": 0, "selection.rule": "dual_agreement",
        **FIXED_POPULATION,
    },
    "self-debug": {"technique": "direct", "population.size": 1, "loop.max_rounds": 5, "repair.policy": "code", **REPAIR},
    "reflexion": {"technique": "direct", "population.size": 1, "loop.max_rounds": 5, "repair.policy": "reflect", **REPAIR},
    "agentcoder": {
        "technique": "cot", "tester.prompt": "edge", "population.size": 1, "loop.max_rounds": 5,
        "repair.policy": "code", **REPAIR,
    },
    "seed": {"technique": "direct", "population.size": 1, "loop.max_rounds": 5, "repair.policy": "both", **REPAIR},
    "mot-cascade": {
        "technique": "cot", "population.size": 20, "loop.max_rounds": 0, "selection.rule": "majority",
        **FIXED_POPULATION, "cascade.gate": "share", "cascade.threshold": 0.6, "cascade.pool": False,
        "cascade.last_population": 3,
    },
}  # fmt: skip


def documented(name: str, model: str) -> dict:
    return {"coder.model": model, "tester.model": model, **NEUTRAL, **DOCUMENTED[name]}


def test_with_every_dimension_searched_each_preset_trial_is_its_documented_dict() -> None:
    spec = parse_space(EVERYTHING, models=MODELS, prompts=PromptLibrary.load())
    presets = preset_trials(list(PRESETS), spec)
    # a cascade preset on the cascades the space offers, every other on its single models
    assert [(p.name, p.model) for p in presets] == [
        (n, m) for n in PRESETS for m in (("a>b",) if n == "mot-cascade" else ("a", "b", "a+b"))
    ]
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0))
    for preset in presets:
        study.enqueue_trial(dict(preset.params))
    for preset in presets:
        trial = study.ask()
        suggest(trial, spec)
        fixed = {k: v for k, v in trial.params.items() if not is_free(k)}
        expected = documented(preset.name, preset.model)
        if preset.model in ("a+b", "a>b"):
            expected["tester.model"] = "b"  # no tester value here: the space's first
        assert fixed == expected, preset.name
        assert set(trial.params) - set(fixed) <= {k for k in DIMENSIONS if is_free(k)}  # sampling only
        study.tell(trial, 0.0)


def test_a_study_that_fixes_a_dimension_fixes_it_for_presets_too() -> None:
    spec = parse_space(
        {"coder": {"prompt": "careful"}, "loop": {"self_explain": True}},
        models=MODELS,
        prompts=PromptLibrary.load(),
    )
    (single,) = preset_trials(["single-shot"], spec, models=("a",))
    assert single.params["coder.prompt"] == "careful" and single.params["loop.self_explain"] is True


def test_a_searched_dimension_without_the_neutral_value_is_an_error() -> None:
    spec = parse_space({"technique": ["cot", "plan"]}, models=MODELS, prompts=PromptLibrary.load())
    with pytest.raises(ConfigError, match="preset 'single-shot' needs technique = 'direct'"):
        preset_trials(["single-shot"], spec)
    spec = parse_space(
        {"loop": {"self_explain": [True, False]}, "technique": ["direct"]},
        models=MODELS,
        prompts=PromptLibrary.load(),
    )
    assert preset_trials(["single-shot"], spec)[0].params["loop.self_explain"] is False


def test_preset_models_restrict_the_presets_and_must_be_in_the_space() -> None:
    spec = parse_space({"coder": {"model": ["a", "b"]}}, models=MODELS, prompts=PromptLibrary.load())
    assert [p.model for p in preset_trials(["codet"], spec, models=("b",))] == ["b"]
    with pytest.raises(ConfigError, match=r"'c' is not a value of space\.coder\.model"):
        preset_trials(["codet"], spec, models=("c",))
