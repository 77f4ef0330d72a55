"""The embedded default, for real: `accord run` on the smallest local model.

One trial, two HumanEval tasks, llama.cpp started and stopped by accord, reached
through litellm, code run in the bubblewrap sandbox. Takes about half a minute.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import optuna
import pytest

from accord.runners.sandbox import Sandbox
from accord.runners.tasks.load import load_tasks

pytest.importorskip("llama_cpp", reason="needs the local extra (make setup)")


def llama_servers() -> list[str]:
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if "llama_cpp.server" in line and "ps -eo" not in line]


@pytest.mark.local_model
def test_run_on_smollm2(tmp_path: Path, _isolated_cache: Path) -> None:
    study = tmp_path / "e2e.toml"
    study.write_text(
        textwrap.dedent(
            """
            [study]
            name = "e2e"
            seed = 1
            [tasks]
            source = "humaneval[:2]"
            [budget]
            n_trials = 1
            [models.tiny]
            model = "local/smollm2-135m"
            [loop]
            max_tokens = 200
            [space]
            coder.model = "tiny"
            loop.max_rounds = 1
            """
        )
    )
    before = llama_servers()
    result = subprocess.run(
        [sys.executable, "-m", "accord.search.cli", "run", str(study)],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "ACCORD_CACHE_DIR": str(_isolated_cache)},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Pareto front of study e2e" in result.stdout
    (trial,) = optuna.load_study(study_name="e2e", storage=f"sqlite:///{tmp_path / 'runs' / 'e2e.db'}").trials
    assert trial.state == optuna.trial.TrialState.COMPLETE
    pass_rate, cost = trial.values
    # the pass rate is what the selected code scores on the hidden tests, judged anew here
    (selected,) = [
        json.loads(f.read_text())
        for f in (tmp_path / "runs" / "e2e-artifacts").iterdir()
        if f.read_text().startswith("[")
    ]
    tasks = {t.task_id: t for t in load_tasks("humaneval[:2]")}
    with Sandbox(workers=1) as sandbox:
        verdicts = [
            bool(row["code"])
            and sandbox.run(row["code"], (tasks[row["task_id"]].hidden_test or "",), timeout_s=10).all_passed
            for row in selected
        ]
    assert [row["hidden_passed"] for row in selected] == verdicts
    assert pass_rate == sum(verdicts) / 2
    attrs = trial.user_attrs
    assert attrs["calls"] >= 4 and attrs["cache_hits"] == 0  # a fresh cache: every call was real
    assert attrs["completion_tokens"] > 0 and attrs["prompt_tokens"] > 100
    # Cost follows the documented local price: 0.01 $/M prompt, 0.02 $/M completion tokens.
    assert cost == pytest.approx(attrs["prompt_tokens"] * 0.01e-6 + attrs["completion_tokens"] * 0.02e-6)
    assert attrs["spent_usd"] == pytest.approx(cost)
    assert attrs["sandbox"] == "bwrap"
    assert (_isolated_cache / "models" / "smollm2-135m.gguf").stat().st_size > 50_000_000
    assert llama_servers() == before  # accord stopped the server it started


def children_of(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-eo", "pid,ppid,args"], capture_output=True, text=True).stdout
    return [
        int(line.split()[0])
        for line in out.splitlines()[1:]
        if int(line.split()[1]) == pid and "llama_cpp.server" in line
    ]


@pytest.mark.local_model
def test_server_dies_with_a_killed_accord(tmp_path: Path, _isolated_cache: Path) -> None:
    import signal
    import time

    study = tmp_path / "kill.toml"
    study.write_text(
        '[tasks]\nsource = "humaneval[:3]"\n[models.tiny]\nmodel = "local/smollm2-135m"\n'
        '[space]\ncoder.model = "tiny"\npopulation.size = 3\n'
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "accord.search.cli", "run", str(study), "--n-trials", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "ACCORD_CACHE_DIR": str(_isolated_cache)},
    )
    deadline = time.monotonic() + 300
    servers: list[int] = []
    while not servers and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.5)
        servers = children_of(proc.pid)
    assert servers, "accord never started a llama.cpp server"
    time.sleep(2)  # let it get busy
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in servers):
        time.sleep(0.2)
    alive = [
        pid
        for pid in servers
        if Path(f"/proc/{pid}").exists()
        and "Z" not in Path(f"/proc/{pid}/stat").read_text().split(")")[1][:3]
    ]
    assert alive == [], "the llama.cpp server outlived accord"


@pytest.mark.local_model
def test_qwen_1_5b_writes_working_code(_isolated_cache: Path) -> None:
    """The largest local model, for real: assembled from its 22 parts, served, asked once
    (greedy), its answer extracted and run against tests it never saw."""
    from accord.runners.llm import Gateway, LiteLLMBackend, LLMRequest, ModelSpec
    from accord.runners.llm.local import LocalServers
    from accord.runners.sandbox import Sandbox
    from accord.runners.tasks.extract import extract_code

    prompt = (
        'def is_palindrome(s: str) -> bool:\n    """True when s reads the same backwards, ignoring case."""\n'
    )
    spec = ModelSpec(alias="q", model="local/qwen2.5-coder-1.5b", input_cost_per_token=0.12e-6)
    with LocalServers() as servers:
        gateway = Gateway({"q": spec}, LiteLLMBackend(servers.base_url))
        message = {"role": "user", "content": f"Complete this Python function:\n\n{prompt}"}
        answer = gateway.complete(LLMRequest(model="q", messages=(message,), max_tokens=200))
    code = extract_code(answer.text, prompt=prompt, entry_point="is_palindrome")
    assert code is not None, answer.text
    tests = ["assert is_palindrome('Abba')", "assert not is_palindrome('abc')", "assert is_palindrome('')"]
    assert Sandbox(workers=1).run(code, tests, timeout_s=5.0).all_passed, code
    assert answer.cost_usd == pytest.approx(answer.prompt_tokens * 0.12e-6) and answer.completion_tokens > 0
    assert (_isolated_cache / "models" / "qwen2.5-coder-1.5b.gguf").stat().st_size > 900_000_000
