"""Racing on the replay corpus: the same front for fewer tokens?

Two studies of ``studies/replay-search.toml`` (CodeGen-16B's recorded samples on
HumanEval, population 1 to 100 and four selection rules, cost in tokens), the same seed
and the same number of trials, one with ``[budget] racing`` off and one with it on. A
raced trial stops after a rung (10% or 30% of the tasks) once the upper end of its 95%
pass-rate interval cannot reach the front at its projected cost.

It prints the tokens each study spent, the task evaluations each ran (tasks run by each
trial, summed), and whether the fronts agree: every configuration on the front without
racing is on the raced front, or a configuration on the raced front costs no more and
its 95% interval holds that pass rate. Target: the same front for at most 50% of the
tokens. The studies live in ``--dir`` and resume where they stopped.

    python benchmarks/racing.py [--trials 24] [--tasks N] [--dir studies/runs] [--json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import optuna

from accord.runners.stats import Rate
from accord.search.console import BarReporter
from accord.search.run import RunOptions, run_study
from accord.search.study import best_trials, measured, rate
from accord.search.studyfile import Racing, StudyDefinition, load_study

STUDY = Path(__file__).resolve().parent.parent / "studies" / "replay-search.toml"


def arm(
    definition: StudyDefinition, racing: bool, folder: Path, trials: int, tasks: int | None
) -> optuna.Study:
    name = f"{definition.name}-racing-{'on' if racing else 'off'}" + (f"-{tasks}" if tasks else "")
    changed = dataclasses.replace(
        definition,
        name=name,
        storage=f"sqlite:///{(folder / f'{name}.db').resolve()}",
        artifact_dir=folder / f"{name}-artifacts",
        racing=Racing() if racing else None,
        task_source=f"humaneval[:{tasks}]" if tasks else definition.task_source,
    )
    study = optuna.create_study(
        study_name=name, storage=changed.storage, directions=["maximize", "minimize"], load_if_exists=True
    )
    left = trials - len(measured(study.trials))
    if left > 0:
        study = run_study(
            changed,
            RunOptions(n_trials=left),
            BarReporter(enabled=False, prefix=f"[{name}] ", file=sys.stderr),
        )
    return study


def summary(study: optuna.Study) -> dict[str, Any]:
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    ran = measured(done)
    return {
        "trials": len(ran),
        "repeats": len(done) - len(ran),
        "raced": sum(str(t.user_attrs.get("stopped", "")).startswith("raced") for t in ran),
        "tokens": sum(float(t.user_attrs.get("budget_spend", 0.0)) for t in done),
        "task_evaluations": sum(int(t.user_attrs.get("tasks_done", 0)) for t in ran),
        "front": [
            {"trial": t.number, "pass_rate": t.values[0], "tokens": t.values[1], "params": described(t)}
            for t in best_trials(study)
        ],
    }


def described(trial: optuna.trial.FrozenTrial) -> str:
    return f"population {trial.params.get('population.size')} {trial.params.get('selection.rule', 'single')}"


def agree(full: optuna.Study, raced: optuna.Study) -> tuple[bool, list[str]]:
    """Whether every point of the full front is on the raced one, or matched there by a
    configuration that costs no more and whose interval holds its pass rate."""
    raced_front = best_trials(raced)
    notes = []
    ok = True
    for trial in best_trials(full):
        same = [r for r in raced_front if r.params == trial.params]
        if same:
            notes.append(f"{described(trial)}: on both fronts")
            continue
        matches = []
        for other in raced_front:
            other_rate = rate(other) or Rate(0, 0)
            low, high = other_rate.interval
            if other.values[1] <= trial.values[1] and (
                low <= trial.values[0] <= high or other.values[0] >= trial.values[0]
            ):
                matches.append(other)
        if matches:
            best = matches[0]
            notes.append(
                f"{described(trial)} ({trial.values[0]:.3f}, {trial.values[1]:.0f} tokens): matched by "
                f"{described(best)} ({best.values[0]:.3f}, {best.values[1]:.0f} tokens)"
            )
        else:
            ok = False
            notes.append(f"{described(trial)} ({trial.values[0]:.3f}, {trial.values[1]:.0f} tokens): MISSING")
    return ok, notes


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument(
        "--tasks", type=int, default=None, help="the first N HumanEval tasks (default all 164)"
    )
    parser.add_argument("--dir", type=Path, default=STUDY.parent / "runs")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    definition = load_study(STUDY)
    off = arm(definition, False, args.dir, args.trials, args.tasks)
    on = arm(definition, True, args.dir, args.trials, args.tasks)
    ok, notes = agree(off, on)
    report: dict[str, Any] = {
        "racing_off": summary(off),
        "racing_on": summary(on),
        "fronts_agree": ok,
        "agreement": notes,
    }
    report["token_ratio"] = round(report["racing_on"]["tokens"] / report["racing_off"]["tokens"], 3)
    report["evaluation_ratio"] = round(
        report["racing_on"]["task_evaluations"] / report["racing_off"]["task_evaluations"], 3
    )
    if args.json:
        print(json.dumps(report))
        return 0
    for label in ("racing_off", "racing_on"):
        row = report[label]
        print(
            f"{label:<11} trials {row['trials']} ({row['raced']} raced, {row['repeats']} repeats) "
            f"tokens {row['tokens']:.0f} task evaluations {row['task_evaluations']}"
        )
    print(
        f"tokens with racing / without: {report['token_ratio']}; "
        f"task evaluations: {report['evaluation_ratio']}"
    )
    print(f"fronts agree: {ok}")
    for note in notes:
        print(f"  {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
