"""Choosing the cheapest configuration that meets the bar, and exporting it.

An exported file holds the trial's params exactly as Optuna stored them, plus the fixed
settings and the models they name; ``config_from_export`` rebuilds the configuration by
replaying the params through ``suggest`` with an optuna FixedTrial.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import optuna
import tomli_w

from accord.runners.llm import ModelSpec
from accord.search.reader import TableReader, read_models, read_toml
from accord.search.record import record
from accord.search.studyfile import StudyDefinition, load_study, read_loop_settings
from accord.space import (
    DIMENSIONS,
    Choice,
    ConfigError,
    PromptLibrary,
    RunConfig,
    SpaceSpec,
    parse_space,
    preset_params,
    suggest,
)
from accord.space.config import aliases

log = logging.getLogger(__name__)


def export(
    trial: optuna.trial.FrozenTrial,
    definition: StudyDefinition,
    path: Path,
    held_out: optuna.trial.FrozenTrial | None = None,
) -> None:
    """The configuration, its models and its settings, with its search figures and, when
    it was confirmed (``held_out``), its held-out ones."""
    used = {
        part for name, value in trial.params.items() if name.endswith(".model") for part in aliases(value)
    }
    models = {
        alias: {k: v for k, v in asdict(spec).items() if v is not None and k != "alias"}
        for alias, spec in definition.models.items()
        if alias in used
    }
    document = {
        "accord": {
            "study": definition.name,
            "study_file": str(definition.path),
            "trial": trial.number,
            "pass_rate": trial.values[0],
            "cost": trial.values[1],
            "cost_unit": definition.cost_unit,
            "config": record(trial).config,
            **(
                {"held_out_pass_rate": held_out.values[0], "held_out_cost": held_out.values[1]}
                if held_out is not None and held_out.values
                else {}
            ),
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
    """The study file it came from, when the export names one."""
    prompts: PromptLibrary
    """Its templates: the study's (its own folders too) when the study file loads."""


def _prompts_of(study_file: str | None) -> PromptLibrary:
    """The study's prompt library (its own templates too), or the built-in one."""
    if study_file and Path(study_file).is_file():
        try:
            return load_study(Path(study_file)).prompts
        except ConfigError as exc:
            log.warning("using the built-in prompts: the study file does not load (%s)", exc)
    return PromptLibrary.load()


def read_export(path: Path) -> Exported:
    """The configuration, models and params of an exported file, checked by the same code
    as a study file: every key known, every value of the right type and within bounds,
    every parameter a value its dimension allows."""
    file = str(path)
    root = TableReader(file, "", read_toml(path, "exported configuration"))
    if "accord" not in root.table:
        raise ConfigError("no [accord] table: is this a file written by `accord best --export`?", file=file)
    about = root.sub("accord")
    study_file = about.get("study_file", str)
    for key, kind in EXPORT_ABOUT.items():
        about.get(key, kind)
    about.done()
    models = read_models(file, root.sub("models").table, base=path.parent)
    loop = root.sub("settings")
    settings = read_loop_settings(loop)
    loop.done()
    params = root.get("params", dict, {})
    if not params:
        raise root.fail("params", "required: the configuration's parameters")
    library = _prompts_of(study_file)
    try:
        parse_space(dict(params), models=tuple(models), prompts=library, file=file)
    except ConfigError as exc:
        raise ConfigError(str(exc).replace(f"{file}: space.", f"{file}: params."), key=None) from None
    root.done()
    try:
        config = config_from_params(params, settings)
    except ConfigError as exc:
        raise ConfigError(str(exc).removeprefix("params: "), file=file, key="params") from None
    return Exported(
        config=config,
        models=models,
        params=dict(params),
        study_file=Path(study_file) if study_file else None,
        prompts=library,
    )


EXPORT_ABOUT: Mapping[str, type | tuple[type, ...]] = {
    "study": str,
    "trial": int,
    "pass_rate": float,
    "cost": float,
    "cost_unit": str,
    "config": str,
    "held_out_pass_rate": float,
    "held_out_cost": float,
}
"""The informational keys of an export's [accord] table (study_file is read too; the
held-out figures are there when the study was confirmed)."""
