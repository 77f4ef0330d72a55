"""What the study benchmarks share: their command line, where their studies live, and how
they print a rate and a table of configurations."""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna

from accord.search.studyfile import StudyDefinition


def parser(doc: str | None, *, folder: Path | None = None) -> argparse.ArgumentParser:
    """The benchmark's command line: its docstring's first paragraph, ``--json`` and, for a
    benchmark that keeps studies, ``--dir`` (default ``folder``)."""
    args = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])
    if folder is not None:
        args.add_argument("--dir", type=Path, default=folder, help="where the studies live (they resume)")
    args.add_argument("--json", action="store_true", help="print one JSON object")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return args


def emit(report: dict[str, Any], as_json: bool, show: Callable[[dict[str, Any]], None]) -> int:
    """Print the report as one JSON object or for a reader; the exit status."""
    if as_json:
        print(json.dumps(report))
    else:
        show(report)
    return 0


def prepared(
    definition: StudyDefinition, folder: Path, tasks: int | None, seed: int | None = None
) -> StudyDefinition:
    """``definition`` with its storage and artifacts in ``folder``, on the first ``tasks``
    HumanEval tasks when given and with split seed ``seed`` when given (both in its name)."""
    name = definition.name + (f"-s{seed}" if seed is not None else "") + (f"-{tasks}" if tasks else "")
    return dataclasses.replace(
        definition,
        name=name,
        seed=definition.seed if seed is None else seed,
        storage=f"sqlite:///{(folder / f'{name}.db').resolve()}",
        artifact_dir=folder / f"{name}-artifacts",
        task_source=f"humaneval[:{tasks}]" if tasks else definition.task_source,
    )


def fmt_rate(value: dict[str, Any] | None) -> str:
    """A rate from its ``Rate.to_dict()``: the rate, its 95% interval and its n."""
    if value is None:
        return "-"
    return f"{value['rate']:.1%} [{value['low']:.1%}, {value['high']:.1%}] n={value['n']}"


def configurations(report: dict[str, Any], cost_header: str, cost: Callable[[float], str]) -> None:
    """The held-out table: each configuration's pass rate with its interval, its cost."""
    print(f"\n{'configuration':<26} {'held-out pass@1 (95% CI)':<32} {cost_header:>10}  config")
    for item in report["configurations"]:
        spent = item["holdout_tokens"]
        print(
            f"{item['label']:<26} {fmt_rate(item['holdout']):<32} "
            f"{'-' if spent is None else cost(spent):>10}  {item['config']}"
        )
