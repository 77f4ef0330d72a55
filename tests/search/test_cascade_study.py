"""The shipped cascade study on two recorded models: what it runs on, what it refuses,
and that Codex's replayed code is judged as its recorders judged it."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import optuna
import pytest

from accord.runners.llm import Meter
from accord.runners.loop.members import LoopContext
from accord.runners.run import run_config
from accord.runners.runtime import open_runtime
from accord.runners.sandbox import Sandbox
from accord.runners.tasks.load import load_tasks
from accord.search.cli import main
from accord.search.studyfile import load_study
from accord.space import RoleConfig, RunConfig
from tests.helpers import REPO, SHARED_DATA

CODEX = SHARED_DATA / "replay" / "humaneval-codex.jsonl.gz"
STUDY = REPO / "studies" / "replay-cascade.toml"
pytestmark = pytest.mark.skipif(not CODEX.is_file(), reason="Codex corpus not present")


def copy(tmp_path: Path, **replacements: str) -> Path:
    text = STUDY.read_text().replace("../../shared", str(SHARED_DATA.parent))
    for old, new in replacements.items():
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "cascade.toml"
    path.write_text(text)
    return path


def test_presets_run_on_each_model_and_the_cascade_preset_on_the_cascade() -> None:
    definition = load_study(STUDY)
    enqueued = {(p.name, p.model) for p in definition.preset_trials}
    assert enqueued == {
        *((name, model) for name in ("single-shot", "cot-sc", "codet") for model in ("cg", "codex")),
        ("mot-cascade", "cg>codex"),
    }
    mot = next(p for p in definition.preset_trials if p.name == "mot-cascade").params
    assert (mot["population.size"], mot["cascade.last_population"], mot["cascade.threshold"]) == (20, 3, 0.6)
    assert (mot["technique"], mot["selection.rule"], mot["cascade.gate"]) == ("cot", "majority", "share")


def test_a_corpus_without_tests_cannot_be_the_tester(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = copy(tmp_path, **{'tester.model = "cg"': 'tester.model = ["cg", "codex"]'})
    assert main(["run", str(path), "--n-trials", "1"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "space.tester.model" in err[0] and "codex" in err[0]
    assert not list((tmp_path / "runs").glob("*.db"))


def test_a_study_runs_on_the_tasks_every_model_recorded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = copy(
        tmp_path,
        **{
            'source = "humaneval"': 'source = "humaneval[30:40]"',
            'presets = ["single-shot", "cot-sc", "codet", "mot-cascade"]': 'presets = ["single-shot"]',
            "holdout = 0.5": "holdout = 0.2",
        },
    )
    assert main(["run", str(path), "--n-trials", "1"]) == 0
    out = capsys.readouterr()
    said = [line for line in (out.out + out.err).splitlines() if "left out" in line]
    assert len(said) == 1
    assert re.search(r"2 tasks left out: HumanEval/32 \(not recorded by codex\), HumanEval/38", said[0])
    study = optuna.load_study(
        study_name="replay-cascade", storage=f"sqlite:///{tmp_path}/runs/replay-cascade.db"
    )
    assert study.trials[0].user_attrs["tasks"] == 6  # 8 recorded by both, 2 of them held out


def test_codex_replayed_code_is_judged_as_it_was_recorded() -> None:
    """Sample 0 of 16 tasks, single-shot, judged by accord's hidden checks in the sandbox,
    against the corpus's own ``recorded_pass``."""
    definition = load_study(STUDY)
    with gzip.open(CODEX, "rt") as handle:
        recorded = {row["task_id"]: row["recorded_pass"][0] for row in map(json.loads, handle)}
    ids = [f"HumanEval/{i}" for i in range(1, 161, 10)]
    tasks = load_tasks("humaneval", ids=tuple(ids))
    config = RunConfig(
        coder=RoleConfig(model="codex", prompt="direct", temperature=0.8, top_p=0.95),
        tester=RoleConfig(model="cg", prompt="basic", temperature=0.8, top_p=0.95),
        population=1,
        max_rounds=0,
        selection="single",
        **definition.settings,
    )
    with Sandbox() as sandbox, open_runtime(definition.models, executor=sandbox, use_cache=False) as runtime:
        ctx = LoopContext(
            gateway=runtime.gateway, executor=sandbox, prompts=definition.prompts, meter=Meter(),
            hidden_timeout_s=definition.hidden_timeout_s,
        )  # fmt: skip
        result = run_config(tasks, config, ctx, pass_source="hidden")
    judged = {o.task_id: o.hidden_passed for o in result.outcomes}
    assert judged == {task_id: recorded[task_id] for task_id in ids}
    assert 0 < sum(judged.values()) < len(ids)  # both verdicts occur: the comparison can fail
