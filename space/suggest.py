"""suggest(trial, spec): the one place that calls trial.suggest_*.

Every dimension that applies is suggested, fixed ones as one-choice categoricals, in the
order of the DIMENSIONS table, so a trial's params hold its whole configuration and an
exported params dict rebuilds it exactly through optuna.trial.FixedTrial. A conditional
dimension is suggested only where its condition (in the same table) holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from accord.space.config import TOP_P, RoleConfig, RunConfig
from accord.space.methods import CascadeGate, RepairPolicy, SelectionRule
from accord.space.spec import DIMENSIONS, SAME_AS_CODER, Choice, SpaceSpec


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
    params: dict[str, Any] = {}
    for name, dimension in DIMENSIONS.items():
        if dimension.when(params):
            params[name] = _pick(trial, spec, name)
    return build_config(params, settings)


def build_config(params: Mapping[str, Any], settings: Mapping[str, Any] | None = None) -> RunConfig:
    """The configuration a complete params dict (every dimension that applies) stands for."""

    def role(prefix: str, *, coder: RoleConfig | None = None) -> RoleConfig | None:
        if f"{prefix}.model" not in params:
            return None
        model = params[f"{prefix}.model"]
        if coder is not None and model == SAME_AS_CODER:
            model = coder.model
        return RoleConfig(
            model=model,
            prompt=params[f"{prefix}.prompt"],
            temperature=float(params[f"{prefix}.temperature"]),
            top_p=float(params.get(f"{prefix}.top_p", TOP_P)),
        )

    coder, tester = role("coder"), role("tester")
    assert coder is not None and tester is not None
    return RunConfig(
        coder=coder,
        tester=tester,
        planner=role("planner", coder=coder),
        repairer=role("repairer", coder=coder),
        technique=params["technique"],
        fewshot_k=int(params.get("fewshot.k", 0)),
        self_explain=bool(params["loop.self_explain"]),
        population=int(params["population.size"]),
        max_rounds=int(params["loop.max_rounds"]),
        repair=params.get("repair.policy", RepairPolicy.CODE),
        selection=params.get("selection.rule", SelectionRule.SINGLE),
        adaptive=bool(params.get("population.adaptive", False)),
        test_samples=int(params.get("tests.samples", 0)),
        distinguish=bool(params.get("selection.distinguish", False)),
        gate=params.get("cascade.gate", CascadeGate.SHARE),
        threshold=float(params.get("cascade.threshold", 0.0)),
        pool=bool(params.get("cascade.pool", False)),
        last_population=int(params.get("cascade.last_population", 0)),
        **dict(settings or {}),
    )
