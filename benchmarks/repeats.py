"""A proposal of a configuration already measured: reuse its figures, or ask again?

TPE proposes configurations it has already run (in a 24-trial study over 32 points on
the replay corpus it ran only 13 distinct ones). accord never runs one twice; this
measures which of its two answers serves the search better:

- ``reuse``: the trial gets the earlier trial's figures, marked REPEAT, free, not
  counted; the sampler sees the point once more;
- ``resample``: the trial is pruned, and the sampler (which counts pruned trials among
  the bad ones) is asked again.

For each of ``--seeds`` seeds and both answers, a TPE study of ``--trials`` measured
trials runs through accord's own objective over ``studies/replay-search.toml``'s space
(29 configurations: population 1 to 100, four selection rules) on the first ``--tasks``
HumanEval tasks. On the replay corpus a configuration's figures are a function of it
alone (sample i is recorded sample i), so each is run once for real (run_config, the
sandbox judging) and handed to every study that proposes it again.

Per answer it prints, averaged over the seeds: the hypervolume of the final front (pass
rate x tokens saved, against the dearest configuration; 1 would be a free configuration
passing everything), the proposals the sampler made for the trials measured, and how
often the front holds the best pass rate of the whole space.

    python benchmarks/repeats.py [--seeds 10] [--trials 24] [--tasks 40] [--json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import optuna

import accord.search.objective as objective_module
from accord.runners.run import RunResult
from accord.search.run import RunOptions, run_study
from accord.search.study import best_trials, measured
from accord.search.studyfile import load_study
from accord.space import RunConfig

STUDY = Path(__file__).resolve().parent.parent / "studies" / "replay-search.toml"


class Silent:
    def notice(self, message: str) -> None:
        pass

    def trials(self, total: int) -> None:
        pass

    def trial_tasks(self, number: int, total: int) -> Any:
        return None

    def trial_done(self, trial: optuna.trial.FrozenTrial, unit: str) -> None:
        pass

    def close(self) -> None:
        pass


def hypervolume(points: list[tuple[float, float]], max_cost: float) -> float:
    """Area dominated by (pass rate up, cost down) points, cost scaled by ``max_cost``."""
    area, best = 0.0, 0.0
    for rate, cost in sorted(points, key=lambda p: p[1]):
        if rate > best:
            area += (rate - best) * (1 - cost / max_cost)
            best = rate
    return area


def summary(
    args: argparse.Namespace, rows: dict[str, list[dict[str, Any]]], measured_once: dict[RunConfig, RunResult]
) -> dict[str, Any]:
    """Each way's hypervolume against that of every configuration either way ran."""
    every = [(r.pass_rate, r.cost) for r in measured_once.values()]
    max_cost = max(cost for _, cost in every)
    best_rate = max(rate for rate, _ in every)
    report: dict[str, Any] = {
        "tasks": args.tasks,
        "trials": args.trials,
        "seeds": args.seeds,
        "configurations_run": len(measured_once),
        "space_hypervolume": round(hypervolume(every, max_cost), 4),
        "best_pass_rate_in_space": best_rate,
    }
    for way, studies in rows.items():
        volumes = [hypervolume(s["front"], max_cost) for s in studies]
        report[way] = {
            "hypervolume_mean": round(statistics.mean(volumes), 4),
            "hypervolume_sd": round(statistics.stdev(volumes), 4) if len(volumes) > 1 else 0.0,
            "proposals_mean": round(statistics.mean(s["proposals"] for s in studies), 2),
            "measured_mean": round(statistics.mean(s["measured"] for s in studies), 2),
            "found_best_rate": sum(any(r >= best_rate for r, _ in s["front"]) for s in studies),
            "hypervolumes": [round(v, 4) for v in volumes],
        }
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--trials", type=int, default=24, help="measured trials per study")
    parser.add_argument("--tasks", type=int, default=40, help="the first N HumanEval tasks")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    base = load_study(STUDY)
    base = dataclasses.replace(base, racing=None, task_source=f"humaneval[:{args.tasks}]")

    measured_once: dict[RunConfig, RunResult] = {}
    run_for_real = objective_module.run_config

    def run_once(tasks: Any, config: RunConfig, ctx: Any, **kwargs: Any) -> RunResult:
        if config not in measured_once:
            measured_once[config] = run_for_real(tasks, config, ctx, **kwargs)
        return measured_once[config]

    objective_module.run_config = run_once  # type: ignore[assignment]
    rows: dict[str, list[dict[str, Any]]] = {"reuse": [], "resample": []}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            for way in rows:
                name = f"repeats-{way}-{seed}"
                definition = dataclasses.replace(
                    base, name=name, seed=seed,
                    storage=f"sqlite:///{Path(tmp) / name}.db", artifact_dir=Path(tmp) / f"{name}-artifacts",
                )  # fmt: skip
                study = run_study(definition, RunOptions(n_trials=args.trials, on_repeat=way), Silent())
                ran = measured(study.get_trials(states=(optuna.trial.TrialState.COMPLETE,)))
                rows[way].append(
                    {
                        "seed": seed,
                        "measured": len(ran),
                        "proposals": len(study.trials),
                        "front": [tuple(t.values) for t in best_trials(study)],
                    }
                )
                print(
                    f"seed {seed} {way}: {len(ran)} measured, {len(study.trials)} proposals", file=sys.stderr
                )
    report = summary(args, rows, measured_once)
    if args.json:
        print(json.dumps(report))
        return 0
    print(
        f"{args.seeds} seeds x {args.trials} measured trials, {args.tasks} tasks; "
        f"{len(measured_once)} configurations run; their hypervolume {report['space_hypervolume']}"
    )
    for way in rows:
        row = report[way]
        print(
            f"{way:<9} hypervolume {row['hypervolume_mean']} (sd {row['hypervolume_sd']}), "
            f"{row['proposals_mean']} proposals, best rate found {row['found_best_rate']}/{args.seeds}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
