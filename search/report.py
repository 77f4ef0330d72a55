"""`accord report`: an HTML page and PNG plots of a study, for people who prefer a plot.

Plots: the Pareto front with the presets highlighted; cost against pass rate for every
completed trial, coloured by coder model; parameter importances for the pass rate
(Optuna's fANOVA). The page adds a table comparing the presets with the best
configurations found.
"""

from __future__ import annotations

import html
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import optuna

from accord.search.choice import choose
from accord.search.compare import (
    Scored,
    best_preset,
    confirmations,
    describe_paired,
    holdout_trials,
    paired,
    scored,
    usable,
)
from accord.search.console import interval
from accord.search.payback import describe as describe_payback
from accord.search.payback import payback
from accord.search.record import PRESET_ATTR, record
from accord.search.study import best_trials, described, trial_rows
from accord.search.studyfile import StudyDefinition


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    return plt


def _complete(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """Trials that ran in full (one a budget stopped scored only part of its tasks)."""
    return [t for t in study.get_trials(deepcopy=False) if usable(t)]


def plot_front(study: optuna.Study, unit: str, path: Path) -> None:
    plt = _pyplot()
    done, front = _complete(study), best_trials(study)
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    ax.scatter([t.values[1] for t in done], [t.values[0] for t in done], c="#bbbbbb", label="trials")
    ordered = sorted(front, key=lambda t: t.values[1])
    ax.step(
        [t.values[1] for t in ordered],
        [t.values[0] for t in ordered],
        where="post",
        c="#1f77b4",
        label="Pareto front",
    )
    ax.scatter([t.values[1] for t in ordered], [t.values[0] for t in ordered], c="#1f77b4", zorder=3)
    presets = [t for t in done if record(t).preset]
    ax.scatter(
        [t.values[1] for t in presets],
        [t.values[0] for t in presets],
        marker="*",
        s=180,
        c="#d62728",
        zorder=4,
        label="presets",
    )
    for trial in presets:
        ax.annotate(
            record(trial).preset,
            (trial.values[1], trial.values[0]),
            xytext=(5, 5),
            textcoords="offset points",
        )
    ax.set_xlabel(f"cost ({unit})")
    ax.set_ylabel("pass rate")
    ax.set_title(f"{study.study_name}: Pareto front")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_cost_vs_pass(study: optuna.Study, unit: str, path: Path) -> None:
    plt = _pyplot()
    done = _complete(study)
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    models = sorted({str(t.params.get("coder.model", "?")) for t in done})
    for index, model in enumerate(models):
        mine = [t for t in done if str(t.params.get("coder.model", "?")) == model]
        sizes = [30 + 12 * int(t.params.get("population.size", 1)) for t in mine]
        ax.scatter(
            [t.values[1] for t in mine],
            [t.values[0] for t in mine],
            s=sizes,
            alpha=0.7,
            color=plt.cm.tab10(index % 10),
            label=model,
        )
    ax.set_xscale(
        "symlog", linthresh=max(min((t.values[1] for t in done if t.values[1] > 0), default=1e-6), 1e-12)
    )
    ax.set_xlabel(f"cost ({unit}, log scale)")
    ax.set_ylabel("pass rate")
    ax.set_title("cost against pass rate (colour: coder model, size: population)")
    ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def importances(study: optuna.Study) -> dict[str, float]:
    """fANOVA importances of the parameters for the pass rate, over the trials that ran in
    full ({} when too few): a trial a budget stopped would read as a bad configuration."""
    done = _complete(study)
    if len(done) < 3:
        return {}
    full = optuna.create_study(directions=study.directions)
    full.add_trials(done)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return dict(optuna.importance.get_param_importances(full, target=lambda t: t.values[0]))
        except (RuntimeError, ValueError):  # e.g. every trial had the same params
            return {}


def plot_importances(values: dict[str, float], path: Path) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    names = list(values)[::-1]
    if names:
        ax.barh(names, [values[n] for n in names], color="#2ca02c")
    else:
        ax.text(0.5, 0.5, "too few varied trials to estimate importances", ha="center", va="center")
    ax.set_xlabel("importance for the pass rate (fANOVA)")
    ax.set_title("parameter importances")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _row(item: Scored, kind: str, versus: str = "") -> str:
    cells = [
        kind,
        str(item.trial.number),
        f"{item.preset}" if item.preset else "",
        item.model,
        interval(item.search),
        f"{item.cost:.4g}",
        interval(item.holdout),
        described(item.trial),
        versus,
    ]
    return "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>"


def comparison_rows(study: optuna.Study, storage: str) -> list[str]:
    """Every preset, then every configuration of the front that is not one, each against
    the best preset on its own coder model (paired, on held-out tasks where confirmed)."""
    confirmed = holdout_trials(storage, study.study_name)
    everything = scored(_complete(study), confirmed)
    on_front = {t.number for t in best_trials(study)}
    rows = [_row(s, PRESET_ATTR) for s in everything if s.preset]
    for item in everything:
        if item.preset or item.trial.number not in on_front:
            continue
        preset = best_preset(everything, item.model)
        versus = ""
        if preset is not None:
            result = paired(item, preset)
            name = f"{preset.preset} (trial {preset.trial.number})"
            versus = describe_paired(result, "this", name) if result else f"{name}: not on the same tasks"
        rows.append(_row(item, "found", versus))
    return rows


def _payback_text(study: optuna.Study, definition: StudyDefinition, storage: str) -> str:
    """The search's bill and the chosen configuration's break-even, in words."""
    choice = choose(study, storage, None)
    if choice is None or choice.chosen is None:
        return "No configuration was chosen yet."
    chosen = choice.chosen
    bill = payback(chosen, choice.everything, study, confirmations(storage, definition.name))
    lines = describe_payback(bill, chosen, definition.cost_unit)
    return f"Chosen on the search figures: trial {chosen.trial.number}. " + "; ".join(lines) + "."


def write_report(
    study: optuna.Study, definition: StudyDefinition, out: Path, storage: str | None = None
) -> list[Path]:
    """Write report.html and its PNGs into ``out``; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    unit = definition.cost_unit
    files = [out / "pareto.png", out / "cost_vs_pass.png", out / "importances.png"]
    plot_front(study, unit, files[0])
    plot_cost_vs_pass(study, unit, files[1])
    plot_importances(importances(study), files[2])
    rows: Sequence[str] = comparison_rows(study, storage or definition.storage)
    bill = _payback_text(study, definition, storage or definition.storage)
    states: dict[str, int] = {}
    for row in trial_rows(study):
        states[row["state"]] = states.get(row["state"], 0) + 1
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>accord report: {html.escape(definition.name)}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;font-size:13px}}img{{max-width:100%}}</style></head>
<body>
<h1>Study {html.escape(definition.name)}</h1>
<p>{len(_complete(study))} trials ran in full ({", ".join(f"{n} {s}" for s, n in sorted(states.items()))};
STOPPED: cut short by a budget, scored on part of the tasks, never on the front);
tasks: {html.escape(definition.task_source)}; objectives: pass rate ({definition.pass_source}), cost ({unit}).
Pass rates carry their 95% Wilson interval and n. A configuration picked on the search tasks is optimistic
there: the held-out column (from <code>accord confirm</code>) is the honest figure.</p>
<h2>Presets and the configurations found, each against the best preset on its coder model</h2>
<table><tr><th>kind</th><th>trial</th><th>preset</th><th>coder model</th><th>search pass rate</th>
<th>cost ({unit})</th><th>held-out pass rate</th><th>configuration</th><th>paired test</th></tr>
{"".join(rows) or '<tr><td colspan="9">no completed trial</td></tr>'}
</table>
<h2>What the search paid</h2><p>{html.escape(bill)}</p>
<h2>Pareto front</h2><img src="pareto.png" alt="Pareto front">
<h2>Cost against pass rate</h2><img src="cost_vs_pass.png" alt="cost against pass rate">
<h2>Parameter importances</h2><img src="importances.png" alt="parameter importances">
</body></html>
"""
    (out / "report.html").write_text(page, encoding="utf-8")
    return [out / "report.html", *files]
