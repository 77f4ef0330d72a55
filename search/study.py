"""Opening, resuming and running studies."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import optuna

from accord.search.studyfile import StudyDefinition

log = logging.getLogger(__name__)

METRICS = ("pass_rate", "cost")

SAMPLER_FACTORIES: Mapping[str, Callable[[int | None], optuna.samplers.BaseSampler]] = {
    "tpe": lambda seed: optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=True),
    "nsga2": lambda seed: optuna.samplers.NSGAIISampler(seed=seed),
    "random": lambda seed: optuna.samplers.RandomSampler(seed=seed),
}


def open_study(
    definition: StudyDefinition, storage: str | None = None, *, create: bool = True
) -> optuna.Study:
    """The study named in the definition, created on first use and resumed afterwards."""
    url = storage or definition.storage
    if url.startswith("sqlite:///"):
        from pathlib import Path

        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    sampler = SAMPLER_FACTORIES[definition.sampler](definition.seed)
    if not create:
        return optuna.load_study(study_name=definition.name, storage=url, sampler=sampler)
    study = optuna.create_study(
        study_name=definition.name,
        storage=url,
        sampler=sampler,
        directions=["maximize", "minimize"],
        load_if_exists=True,
    )
    if list(study.directions) != [
        optuna.study.StudyDirection.MAXIMIZE,
        optuna.study.StudyDirection.MINIMIZE,
    ]:
        raise optuna.exceptions.OptunaError(f"study {definition.name} exists with other directions")
    if study.metric_names != list(METRICS):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names(list(METRICS))
    return study


def enqueue_presets(study: optuna.Study, definition: StudyDefinition) -> list[str]:
    """Enqueue the study's presets once: a preset already tried or waiting is skipped."""
    enqueued = []
    for name, params in definition.preset_params.items():
        already = any(t.user_attrs.get("preset") == name for t in study.get_trials(deepcopy=False))
        if not already:
            study.enqueue_trial(dict(params), user_attrs={"preset": name})
            enqueued.append(name)
    return enqueued


def trial_rows(study: optuna.Study) -> list[dict[str, Any]]:
    """Every trial as a plain dict (for `accord show --json` and the table)."""
    pareto = {t.number for t in best_trials(study)}
    rows = []
    for trial in study.get_trials(deepcopy=False):
        values = trial.values or [None, None]
        rows.append(
            {
                "number": trial.number,
                "state": trial.state.name,
                "pass_rate": values[0],
                "cost": values[1],
                "pareto": trial.number in pareto,
                "preset": trial.user_attrs.get("preset"),
                "params": dict(trial.params),
                "user_attrs": dict(trial.user_attrs),
            }
        )
    return rows


def best_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The feasible Pareto front, cheapest first."""
    try:
        front = study.best_trials
    except ValueError:
        return []
    return sorted(front, key=lambda t: (t.values[1], -t.values[0], t.number))


def study_cost(study: optuna.Study) -> float:
    """The summed cost objective of the study's completed trials."""
    done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    return sum(t.values[1] for t in done if t.values)


def remaining_budget(study: optuna.Study, definition: StudyDefinition) -> float | None:
    """What is left of the study's cost cap (None: no cap)."""
    if definition.max_total_cost is None:
        return None
    return definition.max_total_cost - study_cost(study)
