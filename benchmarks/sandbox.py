"""Sandbox throughput: candidate runs per second, bare against accord's sandbox.

Each job is a distinct candidate plus 10 asserts. "bare" is persistent fork-per-job
workers with no isolation at all (benchmarks/bare_worker.py: one forked child runs the
candidate and its tests together, no bubblewrap, no uid switch, no verdict separation);
"sandbox" is accord's: bubblewrap workers where each job's candidate and tests run in two
fresh processes and every call of the candidate's function crosses between them as
plain data. Both run in this process, one after the other, with 1 and 2 workers; the
ratio compares them within this run. "cache" replays the sandbox's jobs, which its
execution cache answers without running anything.

    python benchmarks/sandbox.py [--jobs N] [--json]
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from accord.runners.sandbox import SYSTEM_PYTHON, Sandbox

BARE = Path(__file__).with_name("bare_worker.py").read_text(encoding="utf-8")


class BareWorkers:
    """The baseline: the same fork-per-job design, no isolation. Never for generated code."""

    def __init__(self, workers: int) -> None:
        self.procs = [
            subprocess.Popen([SYSTEM_PYTHON, "-I", "-c", BARE, "0"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, cwd=tempfile.mkdtemp(prefix="accord-bare-"))
            for _ in range(workers)
        ]  # fmt: skip
        self.free = list(self.procs)
        self.lock = threading.Semaphore(workers)
        self.mutex = threading.Lock()

    def run(self, code: str, tests: list[str]) -> dict[str, Any]:
        with self.lock:
            with self.mutex:
                proc = self.free.pop()
            try:
                assert proc.stdin is not None and proc.stdout is not None
                job = {"code": code, "tests": tests, "timeout": 2.0, "max_timeouts": 3}
                proc.stdin.write(json.dumps(job).encode() + b"\n")
                proc.stdin.flush()
                reply: dict[str, Any] = json.loads(proc.stdout.readline())
                return reply
            finally:
                with self.mutex:
                    self.free.append(proc)

    def run_many(self, jobs: list[tuple[str, list[str]]]) -> list[bool]:
        with ThreadPoolExecutor(len(self.procs)) as pool:
            replies = pool.map(lambda job: self.run(*job), jobs)
            return [
                all(o[0] == "passed" for o in r["outcomes"]) and len(r["outcomes"]) == 10 for r in replies
            ]

    def close(self) -> None:
        for proc in self.procs:
            proc.kill()
            proc.wait()


def jobs(count: int, offset: int) -> list[tuple[str, list[str]]]:
    return [
        (
            f"def f(x):\n    return x + {offset + i}\n",
            [f"assert f({k}) == {k + offset + i}" for k in range(10)],
        )
        for i in range(count)
    ]


def round_trip_us(box: Sandbox, calls: int = 2000) -> float:
    """What one call of the candidate's function costs across the process boundary: a job
    whose test calls it ``calls`` times, less a job calling it once, per extra call
    (median of 5)."""
    samples = []
    for i in range(5):
        code = f"def f(x):\n    return x + {i}\n"
        one, many = "assert f(0) == " + str(i), f"assert all(f(k) == k + {i} for k in range({calls}))"
        start = time.perf_counter()
        box.run(code + "# one\n", [one], timeout_s=30.0, entry_point="f")
        single = time.perf_counter() - start
        start = time.perf_counter()
        box.run(code + "# many\n", [many], timeout_s=30.0, entry_point="f")
        samples.append((time.perf_counter() - start - single) / (calls - 1) * 1e6)
    return sorted(samples)[2]


def rate(run_many: Any, batch: list[tuple[str, list[str]]]) -> float:
    run_many(batch[:20])  # warm the workers
    start = time.perf_counter()
    passed = run_many(batch[20:])
    elapsed = time.perf_counter() - start
    if not all(passed):
        raise SystemExit(f"{passed.count(False)} benchmark jobs failed")
    return (len(batch) - 20) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--jobs", type=int, default=600, help="jobs per measurement")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    report: dict[str, object] = {"jobs": args.jobs, "asserts_per_job": 10}
    offset = 0
    for workers in (1, 2):
        bare = BareWorkers(workers)
        try:
            report[f"bare_{workers}w_per_s"] = round(rate(bare.run_many, jobs(args.jobs, offset)), 1)
        finally:
            bare.close()
        offset += args.jobs
        with Sandbox(workers=workers) as box:
            if workers == 1:
                report["call_round_trip_us"] = round(round_trip_us(box), 1)

            def sandboxed(batch: list[tuple[str, list[str]]], box: Sandbox = box) -> list[bool]:
                return [r.all_passed for r in box.run_many(batch, timeout_s=2.0, entry_point="f")]

            batch = jobs(args.jobs, offset)
            report[f"sandbox_{workers}w_per_s"] = round(rate(sandboxed, batch), 1)
            report["sandbox_mode"] = box.mode
            if workers == 2:
                report["cache_hit_per_s"] = round(rate(sandboxed, batch), 1)
        offset += args.jobs
        report[f"ratio_{workers}w"] = round(
            float(report[f"sandbox_{workers}w_per_s"]) / float(report[f"bare_{workers}w_per_s"]),  # type: ignore[arg-type]
            3,
        )
    if args.json:
        print(json.dumps(report))
        return
    for key, value in report.items():
        print(f"{key:>22}: {value}")
    met = float(report["ratio_2w"]) >= 0.8  # type: ignore[arg-type]
    print(f"target: sandbox with 2 workers >= 80% of bare: {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
