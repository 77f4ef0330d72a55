"""One trial's wall time against a slow hosted model: every independent call in flight.

An OpenAI-compatible endpoint on 127.0.0.1 answers every call after 0.5 s
(``ScriptedOpenAIServer(delay_s=0.5)``, reached through litellm, as a hosted model is).
One trial runs over 40 toy tasks, each a distinct function the scripted model solves,
with the real sandbox and no response cache, at population 1 and 5:

- in flight: ``max_concurrent = 64`` and the trial's tasks side by side (accord's way);
- sequential: ``max_concurrent = 1`` and one task at a time, i.e. every call one after
  another (what a trial did before, at worst; the measure of the speed-up).

Start-up (the sandbox, litellm's first call) is excluded: the clock runs around the trial
alone. The ideal is the critical path, the rounds of dependent calls times the latency
(one round here: a member's code and tests do not depend on each other), or, when the
calls outnumber what may be in flight, the waves ``ceil(calls / max_concurrent)`` times
the latency, whichever is longer. Targets: within 2x of the ideal, and at least 10x
faster than sequential.

    python benchmarks/trial_latency.py [--tasks 40] [--latency 0.5] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from accord.runners.llm import LLMRequest, Meter
from accord.runners.run import run_config
from accord.runners.runtime import open_runtime
from accord.runners.tasks.load import load_tasks
from accord.runners.testing import ScriptedOpenAIServer, solving_answer, toy_tasks
from accord.search.studyfile import load_study
from accord.space import RoleConfig, RunConfig

ROUNDS = 1
"""Rounds of dependent calls in these trials: code and tests at once; all align at once."""


def study(folder: Path, base_url: str, task_file: Path, in_flight: int) -> Path:
    path = folder / f"latency-{in_flight}.toml"
    path.write_text(
        textwrap.dedent(
            f"""
            [study]
            name = "latency-{in_flight}"
            [tasks]
            source = "{task_file}"
            [execution]
            tasks_in_flight = {in_flight}
            [models.m]
            model = "openai/scripted"
            api_base = "{base_url}"
            api_key_env = "LATENCY_KEY"
            input_cost_per_token = 1e-6
            output_cost_per_token = 2e-6
            max_concurrent = {in_flight}
            """
        )
    )
    return path


def config(population: int) -> RunConfig:
    return RunConfig(
        coder=RoleConfig(model="m", prompt="direct", temperature=0.8),
        tester=RoleConfig(model="m", prompt="basic", temperature=0.8),
        population=population,
        max_rounds=0,
        selection="dual_agreement" if population > 1 else "single",
    )


def trial_seconds(path: Path, population: int) -> tuple[float, int, float]:
    """Wall time of one trial (start-up excluded), its calls and its pass rate."""
    definition = load_study(path)
    tasks = load_tasks(definition.task_source)
    with open_runtime(definition.models, use_cache=False) as runtime:
        warm = LLMRequest(model="m", messages=({"role": "user", "content": "def add1(a, b)"},), role="coder")
        runtime.gateway.complete(warm)  # litellm's first call, and the sandbox, before the clock
        runtime.executor.run("def f():\n    return 1", ["assert f() == 1"], timeout_s=5.0)
        meter = Meter(unit="usd")
        ctx = definition.loop_context(runtime.gateway, runtime.executor, meter=meter)
        start = time.perf_counter()
        result = run_config(tasks, config(population), ctx, pass_source="hidden")
        return time.perf_counter() - start, meter.calls, result.pass_rate


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=40)
    parser.add_argument("--latency", type=float, default=0.5, help="seconds the endpoint takes per call")
    parser.add_argument("--in-flight", type=int, default=64, help="max_concurrent and tasks in flight")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    os.environ["LATENCY_KEY"] = "sk-latency"
    rows = []
    with (
        ScriptedOpenAIServer(answer=solving_answer, delay_s=args.latency) as server,
        tempfile.TemporaryDirectory() as tmp,
    ):
        folder = Path(tmp)
        task_file = folder / "toy.jsonl"
        task_file.write_text("".join(json.dumps(t) + "\n" for t in toy_tasks(args.tasks)))
        for population in (1, 5):
            fast, calls, rate = trial_seconds(
                study(folder, server.base_url, task_file, args.in_flight), population
            )
            slow, slow_calls, slow_rate = trial_seconds(
                study(folder, server.base_url, task_file, 1), population
            )
            assert (calls, rate) == (slow_calls, slow_rate), "concurrency changed the trial"
            critical = ROUNDS * args.latency
            ideal = max(ROUNDS, math.ceil(calls / args.in_flight)) * args.latency
            rows.append(
                {
                    "population": population,
                    "tasks": args.tasks,
                    "calls": calls,
                    "pass_rate": rate,
                    "seconds": round(fast, 3),
                    "sequential_seconds": round(slow, 3),
                    "critical_path_seconds": critical,
                    "ideal_seconds": ideal,
                    "ratio_to_ideal": round(fast / ideal, 3),
                    "ratio_to_critical_path": round(fast / critical, 3),
                    "speedup_over_sequential": round(slow / fast, 2),
                    "within_2x_of_ideal": fast <= 2 * ideal,
                    "at_least_10x_faster": slow / fast >= 10,
                }
            )
    if args.json:
        print(json.dumps({"latency_s": args.latency, "max_concurrent": args.in_flight, "results": rows}))
        return 0
    print(f"latency {args.latency} s per call, max_concurrent {args.in_flight}, {args.tasks} tasks, no cache")
    print(f"{'pop':>3} {'calls':>5} {'wall s':>7} {'ideal s':>7} {'x ideal':>7} {'seq s':>7} {'speed-up':>8}")
    for row in rows:
        print(
            f"{row['population']:>3} {row['calls']:>5} {row['seconds']:>7} {row['ideal_seconds']:>7} "
            f"{row['ratio_to_ideal']:>7} {row['sequential_seconds']:>7} {row['speedup_over_sequential']:>8}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
