"""benchmarks/cascade.py at a small size: two splits, the choice made on search figures
before the held-out ones are read, and a verdict that follows from the table."""

from __future__ import annotations

import statistics
from pathlib import Path
from types import ModuleType

import pytest

from tests.helpers import SHARED_DATA, load_benchmark

pytestmark = pytest.mark.skipif(
    not (SHARED_DATA / "replay" / "humaneval-codex.jsonl.gz").is_file(), reason="Codex corpus not present"
)


def benchmark() -> ModuleType:
    return load_benchmark("cascade")


def test_cascade_benchmark_on_a_few_tasks(tmp_path: Path) -> None:
    bench = benchmark()
    report = bench.run(seeds=[0, 1], trials=8, tasks=8, folder=tmp_path)
    assert len(report["splits"]) == 2
    ratios = []
    for split in report["splits"]:
        table = {row["label"]: row for row in split["table"]}
        assert {"codet on codex", "codet on cg", "single-shot on cg", "mot-cascade on cg>codex"} <= set(table)
        assert table["codet on codex"]["ratio"] == 1.0
        anchor, chosen = split["anchor"], split["chosen_on_search"]
        # the choice reads only search figures: the cheapest at Codex-codet's search rate
        reaching = [r for r in table.values() if r["search"]["rate"] >= anchor["search"]["rate"] - 1e-12]
        assert chosen["label"] in {r["label"] for r in reaching}
        assert chosen["search_usd"] == min(r["search_usd"] for r in reaching)
        assert chosen["ratio"] == pytest.approx(chosen["usd"] / anchor["usd"], abs=1e-4)
        assert split["goal_met"] == (
            chosen["holdout"]["rate"] >= anchor["holdout"]["rate"] and chosen["ratio"] <= 1 / 3 + 1e-4
        )
        cascade = table["mot-cascade on cg>codex"]
        assert "stage 1 (cg)" in cascade["cascade"] and "stage 2 (codex)" in cascade["cascade"]
        ratios.append(chosen["ratio"])
    assert report["best_ratio"] == pytest.approx(statistics.median(ratios))
