"""The replay provider on the shared CodeGen-16B corpus."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from accord.runners.llm import Gateway, LLMRequest, Meter, ModelSpec, ResponseCache
from accord.runners.llm.replay import ReplayBackend
from accord.runners.loop.members import LoopContext
from accord.runners.run import run_config
from accord.runners.sandbox import Sandbox
from accord.runners.tasks.load import load_tasks
from accord.space import LLMError, PromptLibrary, RoleConfig, RunConfig
from tests.helpers import SHARED_DATA

CORPUS = SHARED_DATA / "replay" / "humaneval-codegen16b.jsonl.gz"
pytestmark = pytest.mark.skipif(not CORPUS.is_file(), reason="replay corpus not present")
SPEC = ModelSpec(
    alias="cg",
    model="replay/humaneval-codegen16b",
    path=str(CORPUS),
    input_cost_per_token=1e-6,
    output_cost_per_token=2e-6,
)


@pytest.fixture(scope="module")
def first_row() -> dict:
    with gzip.open(CORPUS, "rt") as handle:
        return json.loads(handle.readline())


def request(role: str, sample: int, task_id: str = "HumanEval/0") -> LLMRequest:
    return LLMRequest(
        model="cg", messages=({"role": "user", "content": "x"},), role=role, sample=sample, task_id=task_id
    )


def test_sample_i_is_recorded_sample_i(first_row: dict, tmp_path: Path) -> None:
    gw = Gateway({"cg": SPEC}, ReplayBackend(), cache=ResponseCache(tmp_path / "c.sqlite"))
    code = gw.complete(request("coder", 7))
    assert code.text == first_row["code_samples"][7]
    tests = gw.complete(request("tester", 3))
    assert tests.text == "assert " + first_row["test_samples"][3]
    assert code.prompt_tokens > 20 and code.completion_tokens > 5
    assert code.cost_usd == pytest.approx(code.prompt_tokens * 1e-6 + code.completion_tokens * 2e-6)
    assert gw.complete(request("coder", 8)).text == first_row["code_samples"][8]


@pytest.mark.parametrize(
    ("req", "message"),
    [
        (request("coder", 100), "has 100 coder samples for HumanEval/0; sample 100"),
        (request("coder", 0, task_id="HumanEval/999"), "has no task 'HumanEval/999'"),
        (request("repair", 0), "records no repair samples"),
    ],
)
def test_clear_errors(req: LLMRequest, message: str) -> None:
    with pytest.raises(LLMError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ReplayBackend()(SPEC, req)


def test_population_on_replayed_samples_scores_hidden_tests(tmp_path: Path) -> None:
    tasks = load_tasks("humaneval[:3]")
    config = RunConfig(
        coder=RoleConfig(model="cg", prompt="direct", temperature=0.8),
        tester=RoleConfig(model="cg", prompt="basic", temperature=0.8),
        population=10,
        max_rounds=0,
        selection="majority",
    )
    with Sandbox() as sandbox:
        ctx = LoopContext(
            gateway=Gateway({"cg": SPEC}, ReplayBackend()),
            executor=sandbox,
            prompts=PromptLibrary.load(),
            meter=Meter(),
        )
        result = run_config(tasks, config, ctx, pass_source="hidden")
    assert result.meter.calls == 3 * 10 * 2
    assert all(o.code is not None for o in result.outcomes)  # body completions were joined to the prompt
    assert 0.0 < result.pass_rate <= 1.0 and result.cost > 0
