"""Cascades, offline: does the search find a configuration at Codex-codet's held-out pass
rate for at most 1/3 of its USD?

``studies/replay-cascade.toml`` (CodeGen-16B and Codex, recorded on HumanEval; CodeGen's
tests; USD at the study file's prices) is split 50/50 once per split seed. For each
split, a TPE study with racing runs on the search half (single-shot, cot-sc and codet on
each model, and the mixture-of-thoughts cascade, enqueued first), and ``accord confirm``
runs the top of the front and every preset on the held-out half.

The choice is made before its held-out figure is read: among the confirmed
configurations, the cheapest whose *search* pass rate reaches Codex-codet's search pass
rate. Its held-out pass rate and its held-out USD over Codex-codet's are the verdict.
The choice made on the held-out figures themselves is printed beside it, labelled as
optimistic. ``best_ratio`` is the median over splits of the unbiased choice's USD ratio.

    python benchmarks/cascade.py [--seeds 0,1,2] [--trials 24] [--tasks N] [--json]

It writes benchmarks/results/cascade.json (with --json) and cascade.png: held-out pass
rate against USD, one panel per split.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

import common
import optuna
from common import fmt_rate, prepared

from accord.runners.sandbox import Sandbox
from accord.search.compare import Scored, describe_paired, paired
from accord.search.confirm import confirm
from accord.search.console import BarReporter
from accord.search.run import RunOptions, run_study
from accord.search.study import measured, study_cost
from accord.search.studyfile import StudyDefinition, load_study

ROOT = Path(__file__).resolve().parent.parent
STUDY = ROOT / "studies" / "replay-cascade.toml"
RESULTS = ROOT / "benchmarks" / "results"
GOAL_RATIO = 1 / 3
ANCHOR = ("codet", "codex")


def label(item: Scored) -> str:
    return f"{item.preset} on {item.model}" if item.preset else f"trial {item.trial.number} ({item.model})"


def cheapest_reaching(items: list[Scored], bar: float, rate: str, cost: str) -> Scored | None:
    """The cheapest item whose ``rate`` (search or holdout) reaches ``bar``, by ``cost``."""
    meeting = [s for s in items if getattr(s, rate) is not None and getattr(s, rate).value >= bar - 1e-12]
    return min(
        meeting, key=lambda s: (getattr(s, cost), -getattr(s, rate).value, s.trial.number), default=None
    )


def split_report(definition: StudyDefinition, trials: int, executor: Sandbox) -> dict[str, Any]:
    study = optuna.create_study(
        study_name=definition.name, storage=definition.storage, directions=["maximize", "minimize"],
        load_if_exists=True,
    )  # fmt: skip
    left = trials - len(measured(study.trials))
    if left > 0:
        reporter = BarReporter(enabled=False, prefix=f"[{definition.name}] ", file=sys.stderr)
        study = run_study(definition, RunOptions(n_trials=left, executor=executor), reporter)
    items = [s for s in confirm(definition, top=4, executor=executor) if s.holdout is not None]
    anchor = next((s for s in items if (s.preset, s.model) == ANCHOR), None)
    if anchor is None or not anchor.holdout_cost or anchor.search is None or anchor.holdout is None:
        return {"study": definition.name, "reason": "Codex-codet was not confirmed"}
    chosen = cheapest_reaching(items, anchor.search.value, "search", "cost")
    looked = cheapest_reaching(items, anchor.holdout.value, "holdout", "holdout_cost")

    def entry(item: Scored | None) -> dict[str, Any] | None:
        if item is None:
            return None
        test = paired(item, anchor)
        return {
            "label": label(item),
            "config": item.trial.user_attrs.get("config", ""),
            "cascade": item.trial.user_attrs.get("cascade"),
            "search": item.search.to_dict() if item.search else None,
            "search_usd": item.cost,
            "holdout": item.holdout.to_dict() if item.holdout else None,
            "usd": item.holdout_cost,
            "ratio": round((item.holdout_cost or 0.0) / anchor.holdout_cost, 4),  # type: ignore[operator]
            "vs_codex_codet": describe_paired(test, "this", "Codex-codet") if test else None,
            "preset": item.preset,
        }

    cascades = [s for s in items if ">" in s.model]
    best_cascade = max(cascades, key=lambda s: (s.holdout.value, -(s.holdout_cost or 0.0)), default=None)  # type: ignore[union-attr]
    paid = study_cost(study)
    return {
        "study": definition.name,
        "seed": definition.seed,
        "trials": len(measured(study.trials)),
        "table": [entry(s) for s in sorted(items, key=lambda s: s.holdout_cost or 0.0)],
        "anchor": entry(anchor),
        "chosen_on_search": entry(chosen),
        "chosen_on_holdout_optimistic": entry(looked),
        "best_cascade": entry(best_cascade),
        "goal_met": bool(
            chosen is not None
            and chosen.holdout is not None
            and chosen.holdout.value >= anchor.holdout.value
            and (chosen.holdout_cost or 0.0) <= GOAL_RATIO * anchor.holdout_cost
        ),
        "search_objective_usd": paid,
    }


def plot(splits: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(splits), figsize=(5 * len(splits), 4), squeeze=False)
    for ax, split in zip(axes[0], splits, strict=True):
        for row in split.get("table", []):
            kind = "o" if row["preset"] else ("s" if row["cascade"] else "^")
            ax.scatter(row["usd"], row["holdout"]["rate"], marker=kind)
            ax.annotate(row["label"], (row["usd"], row["holdout"]["rate"]), fontsize=6)
        ax.set_xscale("log")
        ax.set_xlabel("held-out USD")
        ax.set_ylabel("held-out pass@1")
        ax.set_title(f"split seed {split.get('seed')}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run(seeds: list[int], trials: int, tasks: int | None, folder: Path) -> dict[str, Any]:
    folder.mkdir(parents=True, exist_ok=True)
    base = load_study(STUDY)
    with Sandbox(workers=base.sandbox_workers) as executor:  # one results cache for every split
        splits = [split_report(prepared(base, folder, tasks, seed), trials, executor) for seed in seeds]
    ratios = [s["chosen_on_search"]["ratio"] for s in splits if s.get("chosen_on_search")]
    return {
        "study": str(STUDY.relative_to(ROOT)),
        "seeds": seeds,
        "trials_per_split": trials,
        "best_ratio": statistics.median(ratios) if ratios else None,
        "ratio_range": [min(ratios), max(ratios)] if ratios else None,
        "goal_ratio": round(GOAL_RATIO, 4),
        "goal_met_splits": sum(s.get("goal_met", False) for s in splits),
        "splits": splits,
    }


def show(report: dict[str, Any]) -> None:
    for split in report["splits"]:
        print(f"\nsplit seed {split.get('seed')}: {split.get('trials')} trials ({split['study']})")
        print(f"{'configuration':<34} {'held-out pass@1':<28} {'USD':>9} {'ratio':>7}  vs Codex-codet")
        for row in split.get("table", []):
            print(
                f"{row['label']:<34} {fmt_rate(row['holdout']):<28} {row['usd']:>9.4f} {row['ratio']:>7.3f}  "
                f"{row['vs_codex_codet'] or ''}"
            )
        for key, what in (("chosen_on_search", "chosen on search figures"),
                          ("chosen_on_holdout_optimistic", "chosen on held-out figures (optimistic)"),
                          ("best_cascade", "best cascade")):  # fmt: skip
            item = split.get(key)
            if item:
                print(
                    f"{what}: {item['label']}, held-out {fmt_rate(item['holdout'])}, "
                    f"ratio {item['ratio']:.3f}"
                )
                if item.get("cascade"):
                    print(f"  on the search tasks: {item['cascade']}")
    print(
        f"\nbest_ratio (median over {len(report['splits'])} splits, choice made on search figures): "
        f"{report['best_ratio']}, range {report['ratio_range']}; goal <= {report['goal_ratio']} "
        f"at Codex-codet's held-out rate: met on {report['goal_met_splits']} of "
        f"{len(report['splits'])} splits"
    )


def main() -> int:
    parser = common.parser(__doc__, folder=STUDY.parent / "runs")
    parser.add_argument("--seeds", default="0,1,2", help="split seeds, comma-separated")
    parser.add_argument("--trials", type=int, default=24, help="measured trials per split")
    parser.add_argument("--tasks", type=int, default=None, help="the first N HumanEval tasks (default all)")
    args = parser.parse_args()  # --json also writes results/
    report = run([int(s) for s in args.seeds.split(",")], args.trials, args.tasks, args.dir)
    if args.json:
        RESULTS.mkdir(parents=True, exist_ok=True)
        if args.tasks is None:
            (RESULTS / "cascade.json").write_text(json.dumps(report, indent=1))
            plot(report["splits"], RESULTS / "cascade.png")
        print(json.dumps(report))
    else:
        show(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
