"""What the CLI prints: trial tables, the run summary and progress bars."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

import optuna
from tqdm import tqdm

from accord.runners.loop.population import TaskOutcome
from accord.runners.sandbox import ExecResult
from accord.search.choice import choose
from accord.search.compare import Scored, best_preset, confirmations, describe_paired, paired
from accord.search.payback import describe as describe_payback
from accord.search.payback import payback
from accord.search.record import PRESET_ATTR, PRESET_MODEL_ATTR, REPEAT_ATTR, record
from accord.search.stats import Rate
from accord.search.study import best_trials, described, rate, trial_rows
from accord.search.studyfile import StudyDefinition

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """Generated text made safe for a terminal: lone surrogates and control characters
    (ANSI escapes among them) shown escaped, never sent raw."""
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


def print_verdicts(result: ExecResult, mode: str) -> None:
    """`accord exec` in text: each test's status, its error escaped, and the count."""
    width = max(len(o.status) for o in result.outcomes)
    for o in result.outcomes:
        error = f"\n{'':<{width}}  -> {printable(o.error)}" if o.error else ""
        print(f"{o.status:<{width}}  {printable(o.test)}{error}")
    passed = sum(result.passed)
    print(f"{passed} passed, {len(result.outcomes) - passed} failed  (sandbox: {mode})")


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
        preset = f"{row[PRESET_ATTR]}/{row[PRESET_MODEL_ATTR]}" if row[PRESET_ATTR] else ""
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
        about = record(trial)
        stopped = f" STOPPED ({about.stopped})" if about.stopped else ""
        if trial.state == optuna.trial.TrialState.FAIL:
            reason = about.fail_reason or "see --debug"
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
    """The front with intervals, the cheapest configuration meeting the bar (chosen on the
    search figures, then read on the held-out ones when the study was confirmed), how it
    compares with the best preset, and whether the search pays for itself. Returns the
    chosen trial."""
    storage = storage or definition.storage
    choice = choose(study, storage, min_pass_rate)
    if choice is None:
        print("no completed feasible trial yet")
        return None
    rows = {row["number"]: row for row in trial_rows(study)}
    print(f"\nPareto front of study {definition.name} on its search tasks (pass rate up, cost down):")
    print(front_table([rows[t.number] for t in best_trials(study)], definition.cost_unit))
    chosen, unit = choice.chosen, definition.cost_unit
    if chosen is None:
        print(f"\nno configuration reaches pass rate {choice.bar:g} on the search tasks")
        return None
    print(f"\ncheapest configuration with a search pass rate >= {choice.bar:g}: trial {chosen.trial.number}")
    print(f"  {described(chosen.trial)}")
    print(f"  search tasks:   {interval(chosen.search)}, cost {fmt(chosen.cost)} {unit}")
    if chosen.holdout is not None:
        repeats = f" (repeats: {chosen.holdout_rates})" if "," in chosen.holdout_rates else ""
        print(
            f"  held-out tasks: {interval(chosen.holdout)}{repeats}, cost {fmt(chosen.holdout_cost)} {unit}"
        )
    else:
        print(
            "  picked on the tasks it is scored on, so this pass rate is optimistic: hold tasks out "
            "(tasks.holdout) and run `accord confirm` to measure it on tasks the search never saw"
        )
    looked = choice.looked
    if looked is not None and looked is not chosen:
        print(
            f"  chosen on the held-out figures instead, trial {looked.trial.number} would read "
            f"{interval(looked.holdout)} there, cost {fmt(looked.holdout_cost)}: optimistic, "
            "a pick among several on the tasks it is read on"
        )
    _versus_preset(chosen, choice.everything)
    bill = payback(chosen, choice.everything, study, confirmations(storage, definition.name))
    for line in describe_payback(bill, chosen, unit):
        print(f"  {line}")
    for name, value in sorted(chosen.trial.params.items()):
        print(f"  {name} = {value!r}")
    return chosen.trial


def _versus_preset(chosen: Scored, everything: list[Scored]) -> None:
    if chosen.preset:
        print(f"  the choice is a preset itself: {chosen.preset} on {chosen.model}")
        return
    preset = best_preset([s for s in everything if s.trial.number != chosen.trial.number], chosen.model)
    if preset is None:
        print("  no preset ran to compare with")
        return
    name = f"{preset.preset} on {preset.model} (trial {preset.trial.number})"
    print(f"  best preset: {name}: {interval(preset.chosen_rate())}, cost {fmt(preset.cost)}")
    result = paired(chosen, preset)
    if result is not None:
        print("  " + describe_paired(result, "the chosen configuration", "the preset"))
