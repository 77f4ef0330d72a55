from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest

from accord.search.best import config_from_params, export, read_export
from accord.search.choice import cheapest_at
from accord.search.compare import Scored
from accord.search.studyfile import load_study
from accord.space import ConfigError, suggest


def point(number: int, pass_rate: float, cost: float) -> tuple[Scored, float, float]:
    trial = optuna.trial.create_trial(values=[pass_rate, cost])
    trial.number = number
    return Scored(trial=trial, search=None), pass_rate, cost


def test_the_cheapest_meeting_the_bar() -> None:
    points = [point(0, 0.2, 1.0), point(1, 0.6, 3.0), point(2, 0.9, 8.0), point(3, 0.6, 3.0)]

    def number(bar: float | None) -> int | None:
        chosen = cheapest_at(points, bar)
        return chosen.trial.number if chosen else None

    assert number(0.5) == 1  # ties on cost and pass rate: the earlier trial
    assert number(0.0) == 0
    assert number(0.9) == 2 and number(None) == 2  # no bar: the best rate
    assert number(0.95) is None
    tie = cheapest_at([point(0, 0.7, 2.0), point(1, 0.8, 2.0)], 0.5)
    assert tie is not None and tie.trial.number == 1


def test_export_holds_exactly_the_stored_params_and_rebuilds_the_config(
    study_file: Callable[..., Path], tmp_path: Path
) -> None:
    definition = load_study(
        study_file(
            space='coder.model = ["good", "bad"]\ncoder.temperature = {low = 0.0, high = 1.0}\npopulation.size = [1, 3]\n'
        )
    )
    study = optuna.create_study(
        directions=["maximize", "minimize"], sampler=optuna.samplers.RandomSampler(seed=3)
    )
    configs = {}
    for _ in range(6):
        trial = study.ask()
        configs[trial.number] = suggest(trial, definition.space, definition.settings)
        study.tell(trial, [0.5, 1.0])
    stored = study.trials[4]
    out = tmp_path / "best.toml"
    export(stored, definition, out)
    document = tomllib.loads(out.read_text())
    assert document["params"] == stored.params
    assert set(document["models"]) == {stored.params["coder.model"], stored.params["tester.model"]}
    exported = read_export(out)
    assert exported.params == stored.params
    assert exported.config == configs[4]
    assert exported.models[stored.params["coder.model"]].model.startswith("fake/")


FULL_SPACE = """
coder.model = ["good", "bad", "good+bad"]
coder.temperature = {low = 0.0, high = 1.0}
coder.top_p = {low = 0.5, high = 1.0}
tester.model = ["good", "bad"]
technique = ["direct", "cot", "plan", "spec", "fewshot"]
fewshot.k = {low = 1, high = 3}
planner.model = ["coder", "bad"]
population.size = [1, 3]
loop.max_rounds = [0, 2]
loop.self_explain = [false, true]
repair.policy = ["code", "reflect", "tests", "both", "blame"]
repairer.model = ["coder", "good"]
selection.rule = ["majority", "dual_agreement", "first_aligned", "most_passed"]
"""


def test_every_branch_of_the_space_survives_export_and_import(
    study_file: Callable[..., Path], tmp_path: Path
) -> None:
    definition = load_study(study_file(space=FULL_SPACE))
    study = optuna.create_study(
        directions=["maximize", "minimize"], sampler=optuna.samplers.RandomSampler(seed=11)
    )
    techniques, policies = set(), set()
    for _ in range(40):
        trial = study.ask()
        config = suggest(trial, definition.space, definition.settings)
        study.tell(trial, [0.5, 1.0])
        out = tmp_path / f"t{trial.number}.toml"
        export(study.trials[-1], definition, out)
        exported = read_export(out)
        rebuilt, models = exported.config, exported.models
        assert rebuilt == config and exported.params == trial.params
        used = {config.coder.model_for(0), config.coder.model_for(1), config.tester.model}
        assert used <= set(models)  # ensembles export each of their models
        techniques.add(config.technique)
        policies.add(config.repair if config.max_rounds else None)
    assert techniques == {"direct", "cot", "plan", "spec", "fewshot"}
    assert policies == {None, "code", "reflect", "tests", "both", "blame"}


def test_reserved_model_aliases_are_rejected(study_file: Callable[..., Path]) -> None:
    with pytest.raises(ConfigError, match=r"models\.coder: 'coder' cannot name a model"):
        load_study(study_file('[models.coder]\nmodel = "fake/x"\n'))


def test_incomplete_params_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match="incomplete parameters"):
        config_from_params({"coder.model": "a"}, {})
    with pytest.raises(ConfigError, match="unknown parameter 'bogus'"):
        config_from_params({"bogus": 1}, {})
