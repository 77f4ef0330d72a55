"""Sandbox throughput: candidate runs per second, bare against accord's sandbox.

Each job is a distinct candidate plus 10 asserts. "bare" is the same persistent
fork-per-job workers with no isolation (no bubblewrap, no uid switch); "sandbox" is
accord's bubblewrap workers. Both run in the same process, one after the other, with 1
and 2 workers; the ratio compares them within this run. "cache" replays the sandbox's
jobs, which its execution cache answers without running anything.

    python benchmarks/sandbox.py [--jobs N] [--json]
"""

from __future__ import annotations

import argparse
import json
import logging
import time

from accord.runners.sandbox import SYSTEM_PYTHON, WORKER, Sandbox


class BareWorkers(Sandbox):
    """The baseline: the same workers, no isolation. Never use it for generated code."""

    def __init__(self, workers: int) -> None:
        super().__init__(workers=workers, use_bwrap=False)
        self._uids = [None] * workers

    def _command(self) -> list[str]:
        return [SYSTEM_PYTHON, "-I", "-c", WORKER, "0"]  # "0": never kill what it can see


def jobs(count: int, offset: int) -> list[tuple[str, list[str]]]:
    return [
        (
            f"def f(x):\n    return x + {offset + i}\n",
            [f"assert f({k}) == {k + offset + i}" for k in range(10)],
        )
        for i in range(count)
    ]


def rate(box: Sandbox, batch: list[tuple[str, list[str]]]) -> float:
    box.run_many(batch[:20], timeout_s=2)  # warm the workers
    start = time.perf_counter()
    results = box.run_many(batch[20:], timeout_s=2)
    elapsed = time.perf_counter() - start
    failed = [r for r in results if not r.all_passed]
    if failed:
        raise SystemExit(f"{len(failed)} benchmark jobs failed, first: {failed[0]}")
    return (len(batch) - 20) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=600, help="jobs per measurement")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    report: dict[str, object] = {"jobs": args.jobs, "asserts_per_job": 10}
    offset = 0
    for workers in (1, 2):
        with BareWorkers(workers) as bare:
            report[f"bare_{workers}w_per_s"] = round(rate(bare, jobs(args.jobs, offset)), 1)
        offset += args.jobs
        with Sandbox(workers=workers) as box:
            batch = jobs(args.jobs, offset)
            report[f"sandbox_{workers}w_per_s"] = round(rate(box, batch), 1)
            report["sandbox_mode"] = box.mode
            if workers == 2:
                report["cache_hit_per_s"] = round(rate(box, batch), 1)
        offset += args.jobs
        report[f"ratio_{workers}w"] = round(
            float(report[f"sandbox_{workers}w_per_s"]) / float(report[f"bare_{workers}w_per_s"]),
            3,  # type: ignore[arg-type]
        )
    if args.json:
        print(json.dumps(report))
        return
    for key, value in report.items():
        print(f"{key:>22}: {value}")
    print(
        f"target: sandbox with 2 workers >= 80% of bare: {'met' if report['ratio_2w'] >= 0.8 else 'NOT met'}"
    )  # type: ignore[operator]


if __name__ == "__main__":
    main()
