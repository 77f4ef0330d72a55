"""suggest(trial, spec): the one place that calls trial.suggest_*.

Every dimension is suggested, fixed ones as one-choice categoricals, so a trial's
params hold its whole configuration and an exported params dict rebuilds it exactly
through optuna.trial.FixedTrial. Conditional dimensions are suggested only in the
branch that uses them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from accord.space.config import SINGLE, RoleConfig, RunConfig
from accord.space.spec import DIMENSIONS, Choice, SpaceSpec


class TrialLike(Protocol):
    """The part of optuna.trial.BaseTrial that suggest uses."""

    def suggest_categorical(self, name: str, choices: Any) -> Any: ...
    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1, log: bool = False) -> int: ...
    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False
    ) -> float: ...


def _pick(trial: TrialLike, spec: SpaceSpec, name: str) -> Any:
    domain = spec.domains[name]
    if isinstance(domain, Choice):
        return trial.suggest_categorical(name, list(domain.values))
    if DIMENSIONS[name].kind == "int":
        step = int(domain.step or 1)
        return trial.suggest_int(name, int(domain.low), int(domain.high), step=step, log=domain.log)
    return trial.suggest_float(name, domain.low, domain.high, step=domain.step, log=domain.log)


def suggest(trial: TrialLike, spec: SpaceSpec, settings: Mapping[str, Any] | None = None) -> RunConfig:
    """The run configuration this trial stands for; ``settings`` are fixed loop settings."""

    def role(prefix: str) -> RoleConfig:
        return RoleConfig(
            model=_pick(trial, spec, f"{prefix}.model"),
            prompt=_pick(trial, spec, f"{prefix}.prompt"),
            temperature=float(_pick(trial, spec, f"{prefix}.temperature")),
        )

    coder, tester = role("coder"), role("tester")
    population = int(_pick(trial, spec, "population.size"))
    max_rounds = int(_pick(trial, spec, "loop.max_rounds"))
    selection = _pick(trial, spec, "selection.rule") if population > 1 else SINGLE
    return RunConfig(
        coder=coder,
        tester=tester,
        population=population,
        max_rounds=max_rounds,
        selection=selection,
        **dict(settings or {}),
    )
