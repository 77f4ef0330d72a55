"""Pass rates as answers: with their n and 95% interval, on the search tasks and on the
held-out ones, and the paired comparison of a configuration with the best preset.

Held-out results live in a sibling study, ``<name>.holdout`` in the same storage (Optuna
does not let a finished trial change): one trial per confirmed configuration, with the
same params, its held-out pass rate and cost as values, and ``search_trial`` pointing back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import optuna

from accord.search.record import SEARCH_TRIAL_ATTR, record
from accord.search.stats import Paired, Rate, mcnemar
from accord.search.study import make_storage, passed_vector, rate

HOLDOUT_SUFFIX = ".holdout"


def holdout_name(study_name: str) -> str:
    return f"{study_name}{HOLDOUT_SUFFIX}"


def usable(trial: optuna.trial.FrozenTrial) -> bool:
    """Finished in full: complete, not stopped by a budget."""
    return (
        trial.state == optuna.trial.TrialState.COMPLETE and bool(trial.values) and not record(trial).stopped
    )


@dataclass(frozen=True, slots=True)
class Scored:
    """One configuration's figures, search and held-out side by side."""

    trial: optuna.trial.FrozenTrial
    search: Rate | None
    holdout: Rate | None = None
    holdout_trial: optuna.trial.FrozenTrial | None = None

    @property
    def preset(self) -> str | None:
        return record(self.trial).preset

    @property
    def model(self) -> str:
        return record(self.trial).preset_model or str(self.trial.params.get("coder.model", "?"))

    @property
    def cost(self) -> float:
        return self.trial.values[1] if self.trial.values else float("nan")

    @property
    def holdout_cost(self) -> float | None:
        held = self.holdout_trial
        return held.values[1] if held is not None and held.values else None

    @property
    def holdout_rates(self) -> str:
        held = self.holdout_trial
        return str(held.user_attrs.get("rates", "")) if held is not None else ""

    def chosen_rate(self) -> Rate | None:
        """Held-out when confirmed, else search."""
        return self.holdout if self.holdout is not None else self.search

    def chosen_vector(self) -> list[bool] | None:
        return (
            passed_vector(self.holdout_trial) if self.holdout_trial is not None else passed_vector(self.trial)
        )


def holdout_trials(
    storage: optuna.storages.BaseStorage | str, study_name: str
) -> dict[int, optuna.trial.FrozenTrial]:
    """search trial number -> its latest confirmation ({} when never confirmed)."""
    return {int(t.user_attrs[SEARCH_TRIAL_ATTR]): t for t in confirmations(storage, study_name)}


def confirmations(
    storage: optuna.storages.BaseStorage | str, study_name: str
) -> list[optuna.trial.FrozenTrial]:
    """Every confirmation of the study's trials, oldest first ([] when never confirmed)."""
    backend = make_storage(storage) if isinstance(storage, str) else storage
    try:
        held = optuna.load_study(study_name=holdout_name(study_name), storage=backend)
    except KeyError:
        return []
    return held.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))


def scored(
    trials: Sequence[optuna.trial.FrozenTrial], confirmed: dict[int, optuna.trial.FrozenTrial]
) -> list[Scored]:
    out = []
    for trial in trials:
        held = confirmed.get(trial.number)
        out.append(
            Scored(trial=trial, search=rate(trial), holdout=rate(held) if held else None, holdout_trial=held)
        )
    return out


def best_preset(candidates: Sequence[Scored], model: str | None = None) -> Scored | None:
    """The preset with the best pass rate (held-out where confirmed), then the cheapest;
    on ``model`` when given and one ran there."""
    presets = [s for s in candidates if s.preset and s.chosen_rate() is not None]
    same = [s for s in presets if s.model == model]
    pool = same or presets
    if not pool:
        return None
    return max(pool, key=lambda s: (s.chosen_rate().value, -s.cost, -s.trial.number))  # type: ignore[union-attr]


def paired(first: Scored, second: Scored) -> tuple[Paired, str] | None:
    """The exact McNemar test of two configurations on the tasks both were scored on:
    held-out when both were confirmed, else the search tasks."""
    both_held = first.holdout_trial is not None and second.holdout_trial is not None
    a = first.chosen_vector() if both_held else passed_vector(first.trial)
    b = second.chosen_vector() if both_held else passed_vector(second.trial)
    if a is None or b is None or len(a) != len(b):
        return None
    return mcnemar(a, b), "held-out" if both_held else "search"


def describe_paired(result: tuple[Paired, str], first: str, second: str) -> str:
    test, where = result
    verdict = {
        "no difference": "no difference",
        "first better": f"{first} is better",
        "second better": f"{second} is better",
        "first ahead, not significant": f"{first} is ahead, not significantly",
        "second ahead, not significant": f"{second} is ahead, not significantly",
    }[test.verdict]
    return (
        f"{verdict} (exact McNemar on the {where} tasks: {test.only_first} passed only by {first}, "
        f"{test.only_second} only by {second}, p = {test.p_value:.3g})"
    )
