"""What accord writes on an Optuna trial and reads back, in one place: the name of every
user attribute that more than one module shares, and the typed view of a trial's that the
rest of the search reads (``record(trial)``). The dashboard shows the same attributes as
strings: each is a scalar."""

from __future__ import annotations

from dataclasses import dataclass

import optuna

WORKER_ATTR = "worker"
RETRY_ATTR = "retry_of"
REPEAT_ATTR = "repeat_of"
"""Set on a trial whose params another finished trial had run: its figures are copied."""
PRESET_ATTR, PRESET_MODEL_ATTR = "preset", "preset_model"
STOPPED_ATTR = "stopped"
"""Why the trial ended before its last task ("raced: ...", "budget: ...", "worker ... died")."""
SPEND_ATTR = "budget_spend"
"""Everything a trial paid at list price, in the study's cost unit, measurement included:
what budget.max_total_cost counts, for failed and stopped trials too."""
PAID_ATTR = "paid"
"""What a trial actually paid, in the study's cost unit: the calls no cache answered (a
trial that repeats calls an earlier one made pays nothing for them)."""
FAIL_ATTR = "fail_reason"
"""Why a trial failed, on one line (the dashboard and `accord show` print it)."""
CASCADE_ATTR = "cascade"
"""A cascade trial's stages in words: why it costs what it costs."""
CONFIG_ATTR = "config"
SEARCH_TRIAL_ATTR = "search_trial"
"""On a held-out confirmation: the search trial it confirms."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Record:
    """A trial's shared attributes, typed (missing ones: None, or "" for text)."""

    preset: str | None
    preset_model: str | None
    stopped: str
    spend: float | None
    paid: float | None
    fail_reason: str | None
    repeat_of: int | None
    cascade: str | None
    config: str

    @property
    def raced(self) -> bool:
        return self.stopped.startswith("raced")

    @property
    def cut_short(self) -> bool:
        """Stopped by a budget: measured on part of its tasks."""
        return self.stopped.startswith("budget")


def _float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def record(trial: optuna.trial.FrozenTrial | optuna.Trial) -> Record:
    attrs = trial.user_attrs
    repeat = attrs.get(REPEAT_ATTR)
    return Record(
        preset=str(attrs[PRESET_ATTR]) if attrs.get(PRESET_ATTR) else None,
        preset_model=str(attrs[PRESET_MODEL_ATTR]) if attrs.get(PRESET_MODEL_ATTR) else None,
        stopped=str(attrs.get(STOPPED_ATTR) or ""),
        spend=_float(attrs.get(SPEND_ATTR)),
        paid=_float(attrs.get(PAID_ATTR)),
        fail_reason=str(attrs[FAIL_ATTR]) if attrs.get(FAIL_ATTR) else None,
        repeat_of=int(repeat) if isinstance(repeat, int) else None,
        cascade=str(attrs[CASCADE_ATTR]) if attrs.get(CASCADE_ATTR) else None,
        config=str(attrs.get(CONFIG_ATTR) or ""),
    )
