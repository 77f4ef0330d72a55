"""CodeT's effect, reproduced on real recorded generations.

Runs the ``codet`` preset of studies/replay-codet.toml through accord's own loop,
population and selection (replay provider, bubblewrap sandbox, 2 workers): for every
HumanEval task, all 100 recorded code samples and the asserts of all 100 recorded test
samples, dual agreement picks one code, and HumanEval's hidden tests judge it. Plain
sampling pass@1 is then measured on the same run: the share of the 100 member codes of
each task that pass the hidden tests, averaged over tasks. Also reported: the expected
pass rate of a member drawn at random from the winning group (accord picks its first).

Reference, measured independently on this corpus (../shared/data/README.md): plain
22.1%, dual agreement 36.1%. Target: the selection run (every task, 100 x 100) in under
5 minutes on this machine.

    python benchmarks/replay_codet.py [--tasks N] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from accord.runners.loop import rules as selection
from accord.runners.loop.members import harness
from accord.runners.loop.transcript import ExecuteEvent, MemoryTranscript
from accord.runners.run import run_config
from accord.runners.runtime import open_runtime
from accord.runners.sandbox import Sandbox
from accord.runners.tasks.load import Task, load_tasks
from accord.search.best import preset_config
from accord.search.stats import wilson
from accord.search.studyfile import StudyDefinition, load_study
from accord.space import RunConfig

STUDY = Path(__file__).resolve().parent.parent / "studies" / "replay-codet.toml"
REFERENCE = {"plain_pass_at_1": 0.221, "dual_agreement": 0.361}
TARGET_S = 300.0


def _groups(
    sandbox: Sandbox,
    task: Task,
    members: list[str | None],
    member_tests: list[tuple[str, ...]],
    passed: dict[str, bool],
    config: RunConfig,
) -> tuple[float, bool]:
    """(expected hidden pass rate of a member drawn from the winning CodeT group, as the
    reference averages; whether the earlier variant's pick passes: distinct tests, no
    tie merging, ties to the earliest group). Every (code, test) pair ran during
    selection: these runs are cache hits."""
    union = tuple(dict.fromkeys(t for tests in member_tests for t in tests))
    weights = [sum(test in tests for tests in member_tests) for test in union]
    coded = [c for c in members if c]
    runs = iter(
        sandbox.run_many([(c, union) for c in coded], timeout_s=config.test_timeout_s, **harness(task))
    )
    vectors = [next(runs).passed if c else None for c in members]
    group = selection.dual_agreement_group(vectors, weights)
    expectation = sum(passed.get(members[i] or "", False) for i in group) / len(group) if group else 0.0
    distinct = selection.dual_agreement_distinct(vectors)
    return expectation, distinct is not None and passed.get(members[distinct] or "", False)


def plain_sampling(
    sandbox: Sandbox,
    tasks: Sequence[Task],
    transcript: MemoryTranscript,
    definition: StudyDefinition,
    config: RunConfig,
) -> tuple[list[float], list[float], list[bool]]:
    """Plain sampling: every member's code against the hidden tests; per task its pass
    rate, the expected pass rate of a pick among the top dual-agreement groups, and the
    earlier variant's pick."""
    codes: dict[str, list[str | None]] = defaultdict(list)
    tests: dict[str, list[tuple[str, ...]]] = defaultdict(list)
    for event in transcript.of(ExecuteEvent):
        codes[event.task_id].append(event.code)
        tests[event.task_id].append(event.tests)
    plain, group_expectation, distinct = [], [], []
    for task in tasks:
        members = codes[task.task_id]
        unique = list(dict.fromkeys(c for c in members if c))
        runs = sandbox.run_many(
            [(c, (task.hidden_test or "",)) for c in unique],
            timeout_s=definition.hidden_timeout_s,
            **harness(task),
        )
        passed = {c: r.all_passed for c, r in zip(unique, runs, strict=True)}
        plain.append(sum(passed.get(c or "", False) for c in members) / len(members))
        expectation, old_pick = _groups(sandbox, task, members, tests[task.task_id], passed, config)
        group_expectation.append(expectation)
        distinct.append(old_pick)
    return plain, group_expectation, distinct


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=164, help="the first N HumanEval tasks (default: all)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    definition = load_study(STUDY)
    config = preset_config("codet", definition)
    tasks = load_tasks(f"{definition.task_source}[:{args.tasks}]", data_dir=definition.data_dir)

    with Sandbox(workers=2) as sandbox, open_runtime(definition.models, executor=sandbox) as runtime:
        ctx = definition.loop_context(runtime.gateway, sandbox, transcript=(transcript := MemoryTranscript()))
        start = time.perf_counter()
        result = run_config(tasks, config, ctx, pass_source="hidden")
        selection_s = time.perf_counter() - start
        pairs = sandbox.executed_pairs

        start = time.perf_counter()
        plain, group_expectation, distinct = plain_sampling(sandbox, tasks, transcript, definition, config)
        plain_s = time.perf_counter() - start

    report = {
        "tasks": len(tasks),
        "population": config.population,
        "selection": config.selection,
        "plain_pass_at_1": round(sum(plain) / len(plain), 4),
        "dual_agreement_pass_rate": round(result.pass_rate, 4),
        "dual_agreement_group_expectation": round(sum(group_expectation) / len(group_expectation), 4),
        "earlier_variant_pass_rate": round(sum(distinct) / len(distinct), 4),
        "dual_agreement_interval": [
            round(x, 4) for x in wilson(sum(o.hidden_passed or False for o in result.outcomes), len(tasks))
        ],
        "reference": REFERENCE,
        "selection_seconds": round(selection_s, 1),
        "plain_seconds": round(plain_s, 1),
        "llm_calls": result.meter.calls,
        "tokens": result.meter.prompt_tokens + result.meter.completion_tokens,
        "executed_pairs": pairs,
        "sandbox": sandbox.mode,
        "target_seconds": TARGET_S,
        "target_met": selection_s < TARGET_S,
    }
    if args.json:
        print(json.dumps(report))
    else:
        width = max(map(len, report))
        for key, value in report.items():
            print(f"{key:>{width}}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
