"""The proof's pipeline at a small size: search on half the tasks, confirm the front and
the presets on the other half, and a verdict that follows from the held-out figures."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

from accord.runners.llm import Meter
from accord.runners.loop.members import LoopContext
from accord.runners.run import run_config
from accord.runners.runtime import open_runtime
from accord.search.best import preset_config
from accord.search.preflight import study_tasks
from accord.search.study import open_study, study_cost, study_storage
from tests.helpers import SHARED_DATA, load_benchmark

CORPUS = SHARED_DATA / "replay" / "humaneval-codegen16b.jsonl.gz"
pytestmark = pytest.mark.skipif(not CORPUS.is_file(), reason="replay corpus not present")


def benchmark() -> ModuleType:
    return load_benchmark("search_vs_presets")


def test_search_then_held_out_confirmation_on_a_few_tasks(tmp_path: Path) -> None:
    bench = benchmark()
    report = bench.run(trials=4, tasks=8, folder=tmp_path, adaptive=False)
    definition = bench.prepared(bench.load_study(bench.STUDY), tmp_path, 8)
    split = study_tasks(definition)
    assert (report["search_tasks"], report["holdout_tasks"]) == (4, 4)
    assert not {t.task_id for t in split.search} & {t.task_id for t in split.holdout}

    rows = {row["label"]: row for row in report["configurations"]}
    assert {"single-shot (preset)", "cot-sc (preset)", "codet (preset)"} <= set(rows)
    assert all(row["holdout"]["n"] == 4 for row in rows.values()), "every candidate is confirmed"
    assert len(rows) >= 3 + 1, "the front is confirmed beside the presets"

    # codet's held-out figures are what codet scores when run on the held-out tasks
    with open_runtime(definition.models) as runtime:
        ctx = LoopContext(
            gateway=runtime.gateway,
            executor=runtime.executor,
            prompts=definition.prompts,
            meter=Meter(unit="tokens"),
            hidden_timeout_s=definition.hidden_timeout_s,
        )
        direct = run_config(split.holdout, preset_config("codet", definition), ctx, pass_source="hidden")
    codet = rows["codet (preset)"]
    assert codet["holdout"]["passed"] == sum(direct.passed)
    assert codet["holdout_tokens"] == direct.meter.cost

    # the verdict follows from the table: the cheapest found row at codet's rate or better
    verdict = report["verdict"]
    qualifying = [
        row
        for row in rows.values()
        if not row["preset"] and row["holdout"]["rate"] >= codet["holdout"]["rate"]
    ]
    if qualifying:
        cheapest = min(qualifying, key=lambda row: row["holdout_tokens"])
        assert verdict["cheapest_at_least_codet"] is not None
        chosen = rows[verdict["cheapest_at_least_codet"]]
        assert chosen["holdout_tokens"] == cheapest["holdout_tokens"]
        assert verdict["token_ratio"] == pytest.approx(
            chosen["holdout_tokens"] / codet["holdout_tokens"], abs=1e-4
        )
        assert verdict["goal_met"] == (verdict["token_ratio"] <= 1 / 3)
        assert "McNemar" in verdict["paired"]
    else:
        assert verdict["cheapest_at_least_codet"] is None and not verdict["goal_met"]
        assert verdict["reason"]

    study = open_study(definition, study_storage(definition, None), create=False)
    assert report["study_tokens"]["search"] == study_cost(study) > 0
    assert report["study_tokens"]["confirm"] == pytest.approx(sum(r["holdout_tokens"] for r in rows.values()))
