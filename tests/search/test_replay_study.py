"""Study files on the replay corpus: the corpus is checked at load, and the shipped CodeT
study beats plain sampling on real samples."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from accord.runners.llm import Meter
from accord.runners.loop.members import LoopContext
from accord.runners.loop.transcript import ExecuteEvent, MemoryTranscript
from accord.runners.run import run_config
from accord.runners.runtime import open_runtime
from accord.runners.sandbox import Sandbox
from accord.runners.tasks.load import load_tasks
from accord.search.best import preset_config
from accord.search.studyfile import load_study
from accord.space import ConfigError
from tests.helpers import SHARED_DATA

CORPUS = SHARED_DATA / "replay" / "humaneval-codegen16b.jsonl.gz"
pytestmark = pytest.mark.skipif(not CORPUS.is_file(), reason="replay corpus not present")


def test_study_file_checks_the_corpus(
    study_file: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ACCORD_REPLAY_DIR", raising=False)
    good = load_study(study_file(f'[models.cg]\nmodel = "replay/humaneval-codegen16b"\npath = "{CORPUS}"\n'))
    assert Path(good.models["cg"].path or "").resolve() == CORPUS.resolve()
    with pytest.raises(ConfigError, match=r"models\.cg\.path: replay corpus .* not found"):
        load_study(study_file('[models.cg]\nmodel = "replay/x"\npath = "missing.jsonl.gz"\n', name="m"))
    with pytest.raises(ConfigError, match="ACCORD_REPLAY_DIR"):
        load_study(study_file('[models.cg]\nmodel = "replay/humaneval-codegen16b"\n', name="n"))
    monkeypatch.setenv("ACCORD_REPLAY_DIR", str(CORPUS.parent))
    assert load_study(study_file('[models.cg]\nmodel = "replay/humaneval-codegen16b"\n', name="o"))
    with pytest.raises(ConfigError, match="only replay"):
        load_study(study_file('[models.z]\nmodel = "openai/gpt-4o"\npath = "x"\n', name="p"))


def test_codet_study_selects_better_than_plain_sampling() -> None:
    """The shipped CodeT study on real samples: dual agreement beats the members' own rate.

    On the first 6 tasks (HumanEval/0-5) CodeGen-16B's samples pass the hidden tests
    39% of the time; dual agreement picks a passing sample on 4 of them.
    """
    definition = load_study(Path(__file__).resolve().parents[2] / "studies" / "replay-codet.toml")
    config = preset_config("codet", definition)
    assert (config.population, config.selection, config.max_rounds) == (100, "dual_agreement", 0)
    tasks = load_tasks("humaneval[:6]")
    with Sandbox() as sandbox, open_runtime(definition.models, executor=sandbox) as runtime:
        ctx = LoopContext(
            gateway=runtime.gateway,
            executor=sandbox,
            prompts=definition.prompts,
            meter=Meter(unit="tokens"),
            transcript=(transcript := MemoryTranscript()),
            hidden_timeout_s=definition.hidden_timeout_s,
        )
        result = run_config(tasks, config, ctx, pass_source="hidden")
        plain = []
        for task in tasks:
            codes = [e.code for e in transcript.of(ExecuteEvent, task.task_id)]
            runs = sandbox.run_many([(c or "", (task.hidden_test or "",)) for c in codes], timeout_s=3.0)
            plain.append(sum(r.all_passed for r in runs) / len(codes))
    assert len(plain) == 6 and result.meter.calls == 6 * 200
    assert result.pass_rate > sum(plain) / len(plain) + 0.1
