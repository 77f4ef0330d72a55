"""Racing on replayed corpora: the same confirmed front for less of what the search pays?

For each study (``studies/replay-proof.toml``: CodeGen-16B alone, cost in tokens;
``studies/replay-cascade.toml``: CodeGen-16B and Codex with cascades, cost in USD), two
studies with the same seed and the same number of measured trials, one with racing off
and one with paired racing on (search/racing.py). Both start cold: a run's gateway
counts a replayed call it served before as answered by the cache, as the response cache
answers a live model's repeats, and each arm runs in a gateway of its own.

It prints, per study and arm: what the search paid (calls no cache answered), the
trials' summed objective costs, the trials raced; whether the confirmed fronts agree
(``accord confirm`` on both arms: every point of the held-out front without racing is on
the raced one, or matched there by a configuration that costs no more and whose held-out
interval holds its rate); and the false-stop rate: every stopped trial is run again in
full on the search tasks, and a false stop is one whose full figures would have joined
the raced study's final front. Goal: the same confirmed front for at most 50% of what the
search pays, with at most 1 false stop in 20 stopped trials.

    python benchmarks/racing.py [--trials 24] [--tasks N] [--studies proof,cascade] [--json]

With --json (and all tasks) it writes each study's result to benchmarks/results/
racing-<study>.json as it finishes, and benchmarks/results/racing.json from all of them
(so the two studies may run in two processes side by side).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import optuna

from accord.runners.run import run_config
from accord.runners.runtime import open_runtime
from accord.runners.sandbox import Sandbox
from accord.search.best import config_from_params
from accord.search.compare import Scored
from accord.search.confirm import confirm
from accord.search.console import BarReporter
from accord.search.payback import paid
from accord.search.preflight import study_tasks
from accord.search.racing import task_order
from accord.search.run import RunOptions, run_study
from accord.search.study import best_trials, measured, study_cost
from accord.search.studyfile import Racing, StudyDefinition, load_study

ROOT = Path(__file__).resolve().parent.parent
STUDIES = {
    "proof": ROOT / "studies" / "replay-proof.toml",
    "cascade": ROOT / "studies" / "replay-cascade.toml",
}
RESULTS = ROOT / "benchmarks" / "results"
GOAL_PAID, GOAL_FALSE_STOPS = 0.5, 1 / 20


def arm(
    base: StudyDefinition, racing: bool, folder: Path, trials: int, tasks: int | None, executor: Sandbox
) -> tuple[StudyDefinition, optuna.Study]:
    name = f"{base.name}-racing-{'on' if racing else 'off'}" + (f"-{tasks}" if tasks else "")
    definition = dataclasses.replace(
        base,
        name=name,
        storage=f"sqlite:///{(folder / f'{name}.db').resolve()}",
        artifact_dir=folder / f"{name}-artifacts",
        racing=Racing() if racing else None,
        task_source=f"humaneval[:{tasks}]" if tasks else base.task_source,
    )
    study = optuna.create_study(
        study_name=name, storage=definition.storage, directions=["maximize", "minimize"], load_if_exists=True
    )
    left = trials - len(measured(study.trials))
    if left > 0:
        reporter = BarReporter(enabled=False, prefix=f"[{name}] ", file=sys.stderr)
        study = run_study(definition, RunOptions(n_trials=left, executor=executor), reporter)
    return definition, study


def held_front(items: list[Scored]) -> list[Scored]:
    """The confirmed configurations no other beats on held-out rate and cost."""
    points = [(s, s.holdout.value, s.holdout_cost or 0.0) for s in items if s.holdout is not None]
    return [
        a for a, ra, ca in points
        if not any(rb >= ra and cb <= ca and (rb > ra or cb < ca) for _, rb, cb in points)
    ]  # fmt: skip


def agree(off: list[Scored], on: list[Scored]) -> tuple[bool, list[str]]:
    """Every held-out front point without racing is on the raced held-out front, or matched
    there by one that costs no more and whose held-out interval holds its rate."""
    notes, ok = [], True
    raced = held_front(on)
    for item in held_front(off):
        assert item.holdout is not None
        if any(r.trial.params == item.trial.params for r in raced):
            notes.append(f"{item.trial.user_attrs.get('config', '')}: on both")
            continue
        match = next(
            (
                r for r in raced
                if r.holdout is not None and (r.holdout_cost or 0.0) <= (item.holdout_cost or 0.0)
                and (r.holdout.value >= item.holdout.value
                     or r.holdout.interval[0] <= item.holdout.value <= r.holdout.interval[1])
            ),
            None,
        )  # fmt: skip
        ok = ok and match is not None
        notes.append(
            f"{item.trial.user_attrs.get('config', '')} ({item.holdout}): "
            + (f"matched by trial {match.trial.number} ({match.holdout})" if match else "MISSING")
        )
    return ok, notes


def false_stops(definition: StudyDefinition, study: optuna.Study, executor: Sandbox) -> list[dict[str, Any]]:
    """Every raced trial run in full on the search tasks: would it have joined the front?"""
    stopped = [t for t in measured(study.trials) if str(t.user_attrs.get("stopped", "")).startswith("raced")]
    front = best_trials(study)
    tasks = task_order(study_tasks(definition).search, definition.seed)
    out = []
    with open_runtime(definition.models, executor=executor) as runtime:
        for trial in stopped:
            ctx = definition.loop_context(runtime.gateway, executor)
            config = config_from_params(trial.params, definition.settings)
            full = run_config(tasks, config, ctx, pass_source=definition.pass_source)
            joins = not any(
                f.values[0] >= full.pass_rate and f.values[1] <= full.cost
                and (f.values[0] > full.pass_rate or f.values[1] < full.cost)
                for f in front
            )  # fmt: skip
            out.append(
                {
                    "trial": trial.number,
                    "pass_rate": full.pass_rate,
                    "cost": full.cost,
                    "would_join_front": joins,
                }
            )
    return out


def run_study_pair(key: str, trials: int, tasks: int | None, folder: Path) -> dict[str, Any]:
    base = load_study(STUDIES[key])
    report: dict[str, Any] = {"study": str(STUDIES[key].relative_to(ROOT)), "trials": trials}
    confirmed = {}
    with Sandbox(workers=base.sandbox_workers) as executor:
        for racing in (False, True):
            definition, study = arm(base, racing, folder, trials, tasks, executor)
            items = confirm(definition, top=3, executor=executor)
            label = "racing_on" if racing else "racing_off"
            done = measured(study.trials)
            report[label] = {
                "paid": paid(study.get_trials(deepcopy=False)),
                "objective": study_cost(study),
                "trials": len(done),
                "raced": sum(str(t.user_attrs.get("stopped", "")).startswith("raced") for t in done),
                "task_evaluations": sum(int(t.user_attrs.get("tasks_done", 0)) for t in done),
                "confirm_paid": sum(
                    s.holdout_trial.user_attrs.get("paid", 0.0) for s in items if s.holdout_trial
                ),
            }
            confirmed[racing] = items
            if racing:
                report["false_stops"] = false_stops(definition, study, executor)
    report["fronts_agree"], report["agreement"] = agree(confirmed[False], confirmed[True])
    report["paid_ratio"] = round(report["racing_on"]["paid"] / report["racing_off"]["paid"], 4)
    stops = report["false_stops"]
    report["false_stop_rate"] = (
        round(sum(s["would_join_front"] for s in stops) / len(stops), 4) if stops else None
    )
    report["unit"] = base.cost_unit
    return report


def combined(studies: list[dict[str, Any]]) -> dict[str, Any]:
    stops = [s for study in studies for s in study["false_stops"]]
    return {
        "studies": studies,
        "paid_ratio": max(s["paid_ratio"] for s in studies),
        "false_stop_rate": round(sum(s["would_join_front"] for s in stops) / len(stops), 4)
        if stops
        else None,
        "stopped": len(stops),
        "fronts_agree": all(s["fronts_agree"] for s in studies),
        "goal": {"paid_ratio_at_most": GOAL_PAID, "false_stop_rate_at_most": GOAL_FALSE_STOPS},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--tasks", type=int, default=None, help="the first N HumanEval tasks (default all)")
    parser.add_argument("--studies", default="proof,cascade")
    parser.add_argument("--dir", type=Path, default=ROOT / "studies" / "runs")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    studies = []
    for key in args.studies.split(","):
        studies.append(run_study_pair(key, args.trials, args.tasks, args.dir))
        if args.json and args.tasks is None:  # each study's result as soon as it is done
            RESULTS.mkdir(parents=True, exist_ok=True)
            (RESULTS / f"racing-{key}.json").write_text(json.dumps(studies[-1], indent=1))
    if args.json and args.tasks is None:  # every study measured so far, this run's or another's
        studies = [json.loads(p.read_text()) for p in sorted(RESULTS.glob("racing-*.json"))]
    report = combined(studies)
    if args.json:
        if args.tasks is None:
            (RESULTS / "racing.json").write_text(json.dumps(report, indent=1))
        print(json.dumps(report))
        return 0
    for study in studies:
        print(f"\n{study['study']} ({study['trials']} trials per arm, cost in {study['unit']})")
        for label in ("racing_off", "racing_on"):
            row = study[label]
            print(
                f"  {label:<11} paid {row['paid']:.4g}, trials' costs {row['objective']:.4g}, "
                f"{row['raced']} of {row['trials']} raced, {row['task_evaluations']} task runs, "
                f"confirming paid {row['confirm_paid']:.4g}"
            )
        print(
            f"  paid with racing / without: {study['paid_ratio']}; "
            f"confirmed fronts agree: {study['fronts_agree']}"
        )
        for note in study["agreement"]:
            print(f"    {note}")
        for stop in study["false_stops"]:
            verdict = (
                "FALSE STOP: would have joined the front" if stop["would_join_front"] else "rightly stopped"
            )
            print(
                f"  trial {stop['trial']} in full: {stop['pass_rate']:.3f} at {stop['cost']:.4g}: {verdict}"
            )
    print(
        f"\npaid ratio (the larger of the studies): {report['paid_ratio']} (goal <= {GOAL_PAID}); "
        f"false stops {report['false_stop_rate']} of {report['stopped']} stopped "
        f"(goal <= {GOAL_FALSE_STOPS}); "
        f"confirmed fronts agree: {report['fronts_agree']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
