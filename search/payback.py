"""Whether a search pays for itself: what it paid (the calls no cache answered, searching
and confirming), what the chosen configuration saves on each task against the cheapest
preset at its pass rate, and after how many tasks the savings repay the search."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import optuna

from accord.search.compare import Scored
from accord.search.record import record
from accord.search.study import study_cost


def paid(trials: Sequence[optuna.trial.FrozenTrial]) -> float:
    """What these trials actually paid (trials from before it was recorded: what they spent)."""
    total = 0.0
    for trial in trials:
        about = record(trial)
        total += about.paid if about.paid is not None else about.spend or 0.0
    return total


@dataclass(frozen=True, slots=True, kw_only=True)
class Payback:
    search_paid: float
    """What the search's trials paid."""
    search_objective: float
    """The sum of what its trials spent at list price, as if no call were ever repeated."""
    confirm_paid: float
    preset: Scored | None
    """The cheapest preset whose search pass rate reaches the chosen configuration's."""
    saving_per_task: float
    """The preset's cost per task less the chosen one's (search figures)."""

    @property
    def total_paid(self) -> float:
        return self.search_paid + self.confirm_paid

    @property
    def break_even_tasks(self) -> float | None:
        """Tasks after which the savings repay the search (None: it saves nothing)."""
        return self.total_paid / self.saving_per_task if self.saving_per_task > 0 else None


def payback(
    chosen: Scored,
    everything: Sequence[Scored],
    study: optuna.Study,
    confirmed: Sequence[optuna.trial.FrozenTrial],
) -> Payback:
    """The search's bill against what ``chosen`` saves per search task."""
    rate = chosen.search.value if chosen.search else 0.0
    n_tasks = chosen.search.n if chosen.search else 0
    presets = [s for s in everything if s.preset and s.search is not None and s.search.value >= rate]
    preset = min(presets, key=lambda s: (s.cost, s.trial.number), default=None)
    saving = (preset.cost - chosen.cost) / n_tasks if preset is not None and n_tasks else 0.0
    return Payback(
        search_paid=paid(study.get_trials(deepcopy=False)),
        search_objective=study_cost(study),
        confirm_paid=paid(confirmed),
        preset=preset,
        saving_per_task=saving,
    )


def describe(result: Payback, chosen: Scored, unit: str) -> list[str]:
    """The bill and the break-even, in words."""
    lines = [
        f"the search paid {result.search_paid:.4g} {unit} (calls no cache answered; its trials' costs "
        f"sum to {result.search_objective:.4g}), confirming paid {result.confirm_paid:.4g}"
    ]
    preset = result.preset
    if preset is None:
        lines.append("no preset reaches its search pass rate: there is no preset's cost to save against")
    elif preset.trial.number == chosen.trial.number:
        lines.append(f"the choice is the preset {preset.preset} itself: nothing saved, nothing to repay")
    elif result.break_even_tasks is None:
        lines.append(
            f"it saves nothing against {preset.preset} on {preset.model} at its pass rate: the search does "
            "not pay for itself"
        )
    else:
        lines.append(
            f"against {preset.preset} on {preset.model} (the cheapest preset at its pass rate) it saves "
            f"{result.saving_per_task:.4g} {unit} a task: it repays the search after "
            f"{result.break_even_tasks:,.0f} tasks"
        )
    return lines
