"""Every selection rule at a small population, against single-shot, on real samples.

On the replay corpus (CodeGen-16B on all 164 HumanEval tasks, ../shared/data/replay), each
rule picks one of ``--population`` recorded code samples per task (the first ones, with the
same samples' tests), and HumanEval's hidden tests judge the pick; single-shot is sample 0
alone. A rule that picks worse than taking the first sample is broken: this benchmark
shows whether any is. Pass rates carry their 95% Wilson interval, and each rule is
compared with single-shot by an exact McNemar test on the same tasks.

    python benchmarks/replay_rules.py [--population 3] [--tasks N] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from accord.runners.llm import Meter
from accord.runners.loop.members import LoopContext
from accord.runners.run import run_config
from accord.runners.runtime import open_runtime
from accord.runners.sandbox import Sandbox
from accord.runners.tasks.load import load_tasks
from accord.search.stats import Rate, mcnemar
from accord.search.studyfile import load_study
from accord.space import RoleConfig, RunConfig, SelectionRule

STUDY = Path(__file__).resolve().parent.parent / "studies" / "replay-codet.toml"


def config(population: int, rule: str) -> RunConfig:
    role = RoleConfig(model="codegen", prompt="direct", temperature=0.8, top_p=0.95)
    return RunConfig(
        coder=role,
        tester=RoleConfig(model="codegen", prompt="basic", temperature=0.8, top_p=0.95),
        population=population,
        max_rounds=0,
        selection=rule,
        max_tokens=300,
        min_asserts=1,
        test_timeout_s=0.25,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--population", type=int, default=3)
    parser.add_argument("--tasks", type=int, default=164, help="the first N HumanEval tasks")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    definition = load_study(STUDY)
    tasks = load_tasks(f"humaneval[:{args.tasks}]")
    rules = ["single", *SelectionRule.searchable_values()]
    report: dict[str, object] = {"tasks": len(tasks), "population": args.population}
    passed: dict[str, list[bool]] = {}
    start = time.perf_counter()
    with Sandbox(workers=2) as sandbox, open_runtime(definition.models, executor=sandbox) as runtime:
        for rule in rules:
            population = 1 if rule == "single" else args.population
            ctx = LoopContext(
                gateway=runtime.gateway, executor=sandbox, prompts=definition.prompts,
                meter=Meter(unit="tokens"), hidden_timeout_s=definition.hidden_timeout_s,
            )  # fmt: skip
            result = run_config(tasks, config(population, rule), ctx, pass_source="hidden")
            passed[rule] = list(result.passed)
    for rule in rules:
        rate = Rate(sum(passed[rule]), len(tasks))
        low, high = rate.interval
        entry: dict[str, object] = {
            "pass_rate": round(rate.value, 4),
            "interval": [round(low, 4), round(high, 4)],
        }
        if rule != "single":
            test = mcnemar(passed[rule], passed["single"])
            below = rate.value < sum(passed["single"]) / len(tasks)
            entry.update(
                vs_single_shot=test.verdict, only_rule=test.only_first, only_single=test.only_second,
                p_value=round(test.p_value, 4), below_single_shot=below,
            )  # fmt: skip
        report[rule] = entry
    report["seconds"] = round(time.perf_counter() - start, 1)
    if args.json:
        print(json.dumps(report))
    else:
        for key, value in report.items():
            print(f"{key:>22}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
