"""What the CLI prints: trial tables, the run summary and progress bars."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

import optuna
from tqdm import tqdm

from accord.runners.population import TaskOutcome
from accord.search.best import cheapest_meeting
from accord.search.study import best_trials, trial_rows
from accord.search.studyfile import StudyDefinition


def fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


def front_table(rows: Sequence[dict[str, Any]], unit: str, *, mark_front: bool = False) -> str:
    cost = f"cost ({unit})"
    lines = [f"{'trial':>6}  {'state':<8}  {'pass_rate':>9}  {cost:>14}  {'preset':<11} configuration"]
    for row in rows:
        star = "*" if mark_front and row["pareto"] else " "
        lines.append(
            f"{star}{row['number']:>5}  {row['state']:<8}  {fmt(row['pass_rate']):>9}  "
            f"{fmt(row['cost']):>14}  {row['preset'] or '':<11} {row['user_attrs'].get('config', '')}"
        )
    return "\n".join(lines)


class BarReporter:
    """Progress bars for trials and the running trial's tasks; one line per trial."""

    def __init__(self, *, enabled: bool, prefix: str = "") -> None:
        self.enabled, self.prefix = enabled, prefix
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
        self._trials.update(1)
        self._trials.write(
            f"{self.prefix}trial {trial.number} {trial.state.name}: pass_rate={fmt(values[0])} "
            f"cost={fmt(values[1])} {unit}  [{trial.user_attrs.get('config', '')}]"
        )

    def close(self) -> None:
        for bar in [*self._tasks.values(), self._trials]:
            if bar is not None:
                bar.close()


def print_summary(
    study: optuna.Study, definition: StudyDefinition, min_pass_rate: float | None
) -> optuna.trial.FrozenTrial | None:
    front = best_trials(study)
    if not front:
        print("no completed feasible trial yet")
        return None
    rows = {row["number"]: row for row in trial_rows(study)}
    print(f"\nPareto front of study {definition.name} (pass rate up, cost down):")
    print(front_table([rows[t.number] for t in front], definition.cost_unit))
    bar = min_pass_rate if min_pass_rate is not None else max(t.values[0] for t in front)
    chosen = cheapest_meeting(front, bar)
    if chosen is None:
        print(f"\nno trial on the front reaches pass rate {bar:g}")
        return None
    print(
        f"\ncheapest configuration with pass rate >= {bar:g}: trial {chosen.number} "
        f"(pass_rate {fmt(chosen.values[0])}, cost {fmt(chosen.values[1])} {definition.cost_unit})"
    )
    print(f"  {chosen.user_attrs.get('config', '')}")
    for name, value in sorted(chosen.params.items()):
        print(f"  {name} = {value!r}")
    return chosen
