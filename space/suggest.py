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
    """The run configuration this trial stands for; ``settings`` are fixed loop settings.
    The order of suggestions is fixed, and a conditional dimension is suggested only in
    the branch that uses it."""

    def pick(name: str) -> Any:
        return _pick(trial, spec, name)

    def role(prefix: str, *, coder: RoleConfig | None = None) -> RoleConfig:
        model = pick(f"{prefix}.model")
        if coder is not None and model == SAME_AS_CODER:
            model = coder.model
        return RoleConfig(
            model=model,
            prompt=pick(f"{prefix}.prompt"),
            temperature=float(pick(f"{prefix}.temperature")),
            top_p=float(pick(f"{prefix}.top_p")) if f"{prefix}.top_p" in DIMENSIONS else 1.0,
        )

    coder, tester = role("coder"), role("tester")
    technique = pick("technique")
    fewshot_k = int(pick("fewshot.k")) if technique == "fewshot" else 0
    population = int(pick("population.size"))
    max_rounds = int(pick("loop.max_rounds"))
    self_explain = bool(pick("loop.self_explain"))
    planner = role("planner", coder=coder) if technique in ("plan", "spec") or self_explain else None
    repair, repairer = "code", None
    if max_rounds > 0:
        repair = pick("repair.policy")
        repairer = role("repairer", coder=coder)
    selection = pick("selection.rule") if population > 1 else SINGLE
    return RunConfig(
        coder=coder,
        tester=tester,
        planner=planner,
        repairer=repairer,
        technique=technique,
        fewshot_k=fewshot_k,
        self_explain=self_explain,
        population=population,
        max_rounds=max_rounds,
        repair=repair,
        selection=selection,
        **dict(settings or {}),
    )
