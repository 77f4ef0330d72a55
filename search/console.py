"""What the CLI prints: trial tables, the run summary and progress bars."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

import optuna
from tqdm import tqdm

from accord.runners.population import TaskOutcome
from accord.runners.stats import Rate
from accord.search.compare import Scored, best_preset, describe_paired, holdout_trials, paired, scored, usable
from accord.search.study import REPEAT_ATTR, best_trials, described, rate, trial_rows
from accord.search.studyfile import StudyDefinition


def fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


def interval(rate: Rate | None) -> str:
    if rate is None:
        return "-"
    low, high = rate.interval
    return f"{rate.value:.3f} [{low:.2f}-{high:.2f}] n={rate.n}"


def front_table(rows: Sequence[dict[str, Any]], unit: str, *, mark_front: bool = False) -> str:
    cost = f"cost ({unit})"
    head = (
        f"{'trial':>6}  {'state':<8}  {'pass rate [95% CI] n':<24}  {cost:>12}  {'preset':<18} configuration"
    )
    lines = [head]
    for row in rows:
        star = "*" if mark_front and row["pareto"] else " "
        preset = f"{row['preset']}/{row['preset_model']}" if row["preset"] else ""
        lines.append(
            f"{star}{row['number']:>5}  {row['state']:<8}  {interval(row['rate']):<24}  "
            f"{fmt(row['cost']):>12}  {preset:<18} {row['user_attrs'].get('config', '')}"
        )
    return "\n".join(lines)


class BarReporter:
    """Progress bars for trials and the running trial's tasks; one line per trial."""

    def __init__(self, *, enabled: bool, prefix: str = "", file: TextIO | None = None) -> None:
        """``file``: where the per-trial lines go (standard output when None)."""
        self.enabled, self.prefix, self.file = enabled, prefix, file
        self._trials: Any = None
        self._tasks: dict[int, Any] = {}

    def notice(self, message: str) -> None:
        (self._trials.write if self._trials is not None else print)(message, file=sys.stderr)

    def trials(self, total: int) -> None:
        self._trials = tqdm(
            total=total, desc="trials", unit="trial", dynamic_ncols=True, disable=not self.enabled
        )

    def trial_tasks(self, number: int, total: int) -> Callable[[TaskOutcome], None]:
        bar = tqdm(total=total, desc=f"trial {number} tasks", unit="task", position=1, leave=False,
                   disable=not self.enabled)  # fmt: skip
        self._tasks[number] = bar
        return lambda outcome: bar.update(1)

    def trial_done(self, trial: optuna.trial.FrozenTrial, unit: str) -> None:
        bar = self._tasks.pop(trial.number, None)
        if bar is not None:
            bar.close()
        values = trial.values or [None, None]
        if REPEAT_ATTR in trial.user_attrs:
            # a configuration already run: nothing measured, nothing counted
            why = f"trial {trial.user_attrs[REPEAT_ATTR]} ran this configuration already"
            if trial.state == optuna.trial.TrialState.PRUNED:
                why += "; the sampler is asked again"
            self._trials.write(f"{self.prefix}trial {trial.number} REPEAT, not run: {why}", file=self.file)
            return
        self._trials.update(1)
        stopped = f" STOPPED ({trial.user_attrs['stopped']})" if trial.user_attrs.get("stopped") else ""
        if trial.state == optuna.trial.TrialState.FAIL:
            reason = trial.user_attrs.get("fail_reason", "see --debug")
            self._trials.write(f"{self.prefix}trial {trial.number} FAIL: {reason}", file=self.file)
            return
        self._trials.write(
            f"{self.prefix}trial {trial.number} {trial.state.name}{stopped}: "
            f"pass rate {interval(rate(trial))} cost={fmt(values[1])} {unit}  "
            f"[{described(trial)}]",
            file=self.file,
        )

    def close(self) -> None:
        for bar in [*self._tasks.values(), self._trials]:
            if bar is not None:
                bar.close()


def print_summary(
    study: optuna.Study, definition: StudyDefinition, min_pass_rate: float | None, storage: str | None = None
) -> optuna.trial.FrozenTrial | None:
    """The front with intervals, the cheapest configuration meeting the bar (chosen on
    held-out figures when the study was confirmed), and how it compares with the best
    preset. Returns the chosen trial."""
    front = best_trials(study)
    if not front:
        print("no completed feasible trial yet")
        return None
    rows = {row["number"]: row for row in trial_rows(study)}
    print(f"\nPareto front of study {definition.name} on its search tasks (pass rate up, cost down):")
    print(front_table([rows[t.number] for t in front], definition.cost_unit))
    confirmed = holdout_trials(storage or definition.storage, definition.name)
    everything = scored([t for t in study.get_trials(deepcopy=False) if usable(t)], confirmed)
    on_holdout = [s for s in everything if s.holdout is not None]
    # choose on the search figures, then read the held-out figure of that choice: a choice
    # made on held-out figures would make them optimistic again
    candidates = on_holdout or [s for s in everything if s.trial in front]
    pool = _front([(s, s.search.value if s.search else 0.0, s.cost) for s in candidates])
    chosen = cheapest_at(pool, min_pass_rate)
    bar = min_pass_rate if min_pass_rate is not None else max(value for _, value, _ in pool)
    if chosen is None:
        print(f"\nno configuration reaches pass rate {bar:g} on the search tasks")
        return None
    print(f"\ncheapest configuration with a search pass rate >= {bar:g}: trial {chosen.trial.number}")
    print(f"  {described(chosen.trial)}")
    print(f"  search tasks:   {interval(chosen.search)}, cost {fmt(chosen.cost)} {definition.cost_unit}")
    if chosen.holdout is not None:
        repeats = f" (repeats: {chosen.holdout_rates})" if "," in chosen.holdout_rates else ""
        print(
            f"  held-out tasks: {interval(chosen.holdout)}{repeats}, "
            f"cost {fmt(chosen.holdout_cost)} {definition.cost_unit}"
        )
    else:
        print(
            "  picked on the tasks it is scored on, so this pass rate is optimistic: hold tasks out "
            "(tasks.holdout) and run `accord confirm` to measure it on tasks the search never saw"
        )
    if on_holdout:
        looked = cheapest_at(
            _front([(s, s.holdout.value, s.holdout_cost or 0.0) for s in on_holdout if s.holdout]),
            min_pass_rate,
        )
        if looked is not None and looked is not chosen:
            print(
                f"  chosen on the held-out figures instead, trial {looked.trial.number} would read "
                f"{interval(looked.holdout)} there, cost {fmt(looked.holdout_cost)}: optimistic, "
                "a pick among several on the tasks it is read on"
            )
    _versus_preset(chosen, everything)
    for name, value in sorted(chosen.trial.params.items()):
        print(f"  {name} = {value!r}")
    return chosen.trial


def cheapest_at(pool: list[tuple[Scored, float, float]], bar: float | None) -> Scored | None:
    """The cheapest item whose pass rate reaches ``bar`` (default: the best of the pool);
    ties: the higher rate, then the earlier trial."""
    if not pool:
        return None
    bar = bar if bar is not None else max(value for _, value, _ in pool)
    meeting = [item for item in pool if item[1] >= bar]
    if not meeting:
        return None
    return min(meeting, key=lambda item: (item[2], -item[1], item[0].trial.number))[0]


def _front(items: list[tuple[Scored, float, float]]) -> list[tuple[Scored, float, float]]:
    """The items no other beats on both pass rate (up) and cost (down)."""
    return [
        a for a in items
        if not any(b[1] >= a[1] and b[2] <= a[2] and (b[1] > a[1] or b[2] < a[2]) for b in items)
    ]  # fmt: skip


def _versus_preset(chosen: Scored, everything: list[Scored]) -> None:
    preset = best_preset([s for s in everything if s.trial.number != chosen.trial.number], chosen.model)
    if preset is None:
        print("  no preset ran to compare with")
        return
    name = f"{preset.preset} on {preset.model} (trial {preset.trial.number})"
    print(f"  best preset: {name}: {interval(preset.chosen_rate())}, cost {fmt(preset.cost)}")
    result = paired(chosen, preset)
    if result is not None:
        print("  " + describe_paired(result, "the chosen configuration", "the preset"))
