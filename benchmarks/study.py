"""The framework's own overhead: trials per minute with a zero-latency model.

For each storage (SQLite, journal file, PostgreSQL when its binaries are installed) and
1, 2 and 4 local workers, one `accord run --workers W` process (real CLI, real sandbox,
litellm to a zero-latency OpenAI-compatible endpoint on 127.0.0.1) adds N trials to a
fresh study over two toy tasks, from an empty response cache. Wall time includes the
processes' start-up, as a user sees it.

    python benchmarks/study.py [--trials N] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from accord.runners.testing import ScriptedOpenAIServer, solving_answer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests' PostgreSQL helper
from tests.postgres import PostgresCluster

TASKS = [
    {"task_id": "t/add", "prompt": 'def add(a: int, b: int) -> int:\n    """Return a + b."""\n'},
    {"task_id": "t/rev", "prompt": 'def rev(s: str) -> str:\n    """Return s reversed."""\n'},
]


def run_once(folder: Path, base_url: str, storage: str, workers: int, trials: int, name: str) -> float:
    tasks = folder / "tasks.jsonl"
    tasks.write_text("".join(json.dumps(t) + "\n" for t in TASKS))
    study = folder / f"{name}.toml"
    study.write_text(
        textwrap.dedent(
            f"""
            [study]
            name = "{name}"
            sampler = "tpe"
            [tasks]
            source = "{tasks}"
            [objectives]
            pass_rate = "alignment"
            [models.m]
            model = "openai/bench"
            api_base = "{base_url}"
            api_key_env = "BENCH_KEY"
            input_cost_per_token = 1e-6
            output_cost_per_token = 2e-6
            [space]
            coder.temperature = {{low = 0.0, high = 1.0}}
            population.size = [1, 2]
            """
        )
    )
    env = {**os.environ, "BENCH_KEY": "sk-bench", "ACCORD_CACHE_DIR": str(folder / "cache")}
    command = [sys.executable, "-m", "accord.search.cli", "run", str(study), "--storage", storage]
    start = time.perf_counter()
    done = subprocess.run(
        [*command, "--workers", str(workers), "--n-trials", str(trials)],
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"accord run failed on {storage}: {done.stderr[-1000:]}")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=8, help="trials per measurement (default 8)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    rows: list[dict[str, object]] = []
    with ScriptedOpenAIServer(answer=solving_answer) as server, tempfile.TemporaryDirectory() as tmp:
        cluster = PostgresCluster() if PostgresCluster.available() else None
        pg_url = cluster.__enter__().url if cluster else None
        try:
            for kind in ("sqlite", "journal", "postgresql"):
                for workers in (1, 2, 4):
                    folder = Path(tmp) / f"{kind}-{workers}"
                    folder.mkdir()
                    name = f"bench_{kind}_{workers}"
                    storage = {
                        "sqlite": f"sqlite:///{folder / 'study.db'}",
                        "journal": f"journal:///{folder / 'study.journal'}",
                        "postgresql": pg_url,
                    }[kind]
                    if storage is None:
                        rows.append({"storage": kind, "workers": workers, "trials_per_minute": None})
                        continue
                    seconds = run_once(folder, server.base_url, storage, workers, args.trials, name)
                    rows.append(
                        {
                            "storage": kind,
                            "workers": workers,
                            "trials": args.trials,
                            "seconds": round(seconds, 2),
                            "trials_per_minute": round(args.trials / seconds * 60, 1),
                        }
                    )
        finally:
            if cluster is not None:
                cluster.__exit__(None, None, None)
    if args.json:
        print(json.dumps({"trials": args.trials, "results": rows}))
    else:
        print(f"{'storage':<11} {'workers':>7} {'seconds':>8} {'trials/min':>10}")
        for row in rows:
            rate = row["trials_per_minute"]
            print(
                f"{row['storage']:<11} {row['workers']:>7} {row.get('seconds', '-'):>8} "
                f"{rate if rate is not None else 'n/a':>10}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
