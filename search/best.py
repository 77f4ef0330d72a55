"""Choosing the cheapest configuration that meets the bar, and exporting it.

An exported file holds the trial's params exactly as Optuna stored them, plus the fixed
settings and the models they name; ``config_from_export`` rebuilds the configuration by
replaying the params through ``suggest`` with an optuna FixedTrial.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import optuna
import tomli_w

from accord.runners.llm import ModelSpec
from accord.search.studyfile import StudyDefinition
from accord.space import DIMENSIONS, Choice, ConfigError, RunConfig, SpaceSpec, preset_params, suggest
from accord.space.config import ENSEMBLE_SEPARATOR


def cheapest_meeting(
    front: Sequence[optuna.trial.FrozenTrial], min_pass_rate: float
) -> optuna.trial.FrozenTrial | None:
    """The cheapest trial of the front whose pass rate is at least the bar (ties: higher
    pass rate, then the earlier trial)."""
    eligible = [t for t in front if t.values is not None and t.values[0] >= min_pass_rate]
    if not eligible:
        return None
    return min(eligible, key=lambda t: (t.values[1], -t.values[0], t.number))


def export(trial: optuna.trial.FrozenTrial, definition: StudyDefinition, path: Path) -> None:
    aliases = {
        part
        for name, value in trial.params.items()
        if name.endswith(".model")
        for part in str(value).split(ENSEMBLE_SEPARATOR)
    }
    models = {
        alias: {k: v for k, v in asdict(spec).items() if v is not None and k != "alias"}
        for alias, spec in definition.models.items()
        if alias in aliases
    }
    document = {
        "accord": {
            "study": definition.name,
            "study_file": str(definition.path),
            "trial": trial.number,
            "pass_rate": trial.values[0],
            "cost": trial.values[1],
            "cost_unit": definition.cost_unit,
            "config": trial.user_attrs.get("config", ""),
        },
        "params": dict(trial.params),
        "settings": dict(definition.settings),
        "models": models,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tomli_w.dumps(document), encoding="utf-8")


def config_from_params(params: Mapping[str, Any], settings: Mapping[str, Any]) -> RunConfig:
    """The configuration a params dict stands for, through the same code that suggested it."""
    unknown = set(params) - set(DIMENSIONS)
    if unknown:
        raise ConfigError(f"unknown parameter {sorted(unknown)[0]!r}", key="params")
    spec = SpaceSpec(domains={name: Choice(values=(value,)) for name, value in params.items()})
    trial = optuna.trial.FixedTrial(dict(params))
    try:
        return suggest(trial, spec, settings)
    except (KeyError, ValueError) as exc:
        raise ConfigError(f"incomplete parameters: {exc}", key="params") from exc


def preset_config(name: str, definition: StudyDefinition, model: str | None = None) -> RunConfig:
    """The configuration a study runs for preset ``name`` on a coder model (default: the
    first); the sampling parameters it leaves open take the first value the space allows."""
    space = definition.space
    params = {dim: space.values(dim)[0] for dim in DIMENSIONS} | preset_params(
        name, space, coder_model=model, file=str(definition.path)
    )
    return suggest(optuna.trial.FixedTrial(params), space, definition.settings)


@dataclass(frozen=True, slots=True, kw_only=True)
class Exported:
    """An exported configuration, read once."""

    config: RunConfig
    models: dict[str, ModelSpec]
    params: dict[str, Any]
    study_file: Path | None
    """The study file it came from (for its prompt folders), when the export names one."""


def read_export(path: Path) -> Exported:
    """The configuration, models and params of an exported file."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read exported configuration ({exc})", file=str(path)) from exc
    params = document.get("params", {})
    models = {alias: ModelSpec(alias=alias, **table) for alias, table in document.get("models", {}).items()}
    study_file = document.get("accord", {}).get("study_file")
    return Exported(
        config=config_from_params(params, document.get("settings", {})),
        models=models,
        params=params,
        study_file=Path(study_file) if study_file else None,
    )


def load_export(path: Path) -> tuple[RunConfig, dict[str, ModelSpec], dict[str, Any]]:
    """(configuration, models, params) from an exported file."""
    exported = read_export(path)
    return exported.config, exported.models, exported.params
