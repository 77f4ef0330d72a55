"""How fast `accord run` stops on SIGTERM: with a local model mid-generation, and with a
slow endpoint (a scripted OpenAI-compatible server that answers after 60 s).

Each case starts `accord run` on a one-task study, waits until calls are in flight (the
llama.cpp server is up and has been generating for a few seconds; the slow endpoint has
requests open), sends SIGTERM, and measures the seconds until the process exits, whether
it left a llama.cpp server behind, and the state of the trial. Goal: within 5 s.

    python benchmarks/stop.py [--json]
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
from typing import Any

import optuna

from accord.runners.testing import ScriptedOpenAIServer, solving_answer

TASK = {
    "task_id": "t/add",
    "prompt": 'def add(a: int, b: int) -> int:\n    """Return a + b."""\n',
    "tests": ["assert add(2, 3) == 5"],
}


def llama_servers() -> list[str]:
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if "llama_cpp.server" in line and "ps -eo" not in line]


def study(folder: Path, model: str) -> Path:
    tasks = folder / "tasks.jsonl"
    tasks.write_text(json.dumps(TASK) + "\n")
    path = folder / "stop.toml"
    path.write_text(
        textwrap.dedent(
            f"""
            [study]
            name = "stop"
            [tasks]
            source = "{tasks}"
            [objectives]
            cost = "tokens"
            [budget]
            n_trials = 1
            [models.m]
            {model}
            [loop]
            max_tokens = 512
            [space]
            technique = "cot"
            population.size = 3
            """
        )
    )
    return path


def stop_after(path: Path, ready: Any, folder: Path) -> dict[str, Any]:
    """Run, wait for ``ready()``, SIGTERM, time the exit."""
    env = {**os.environ, "ACCORD_CACHE_DIR": str(folder / "cache"), "SCRIPTED_KEY": "x"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "accord.search.cli", "run", str(path), "--no-cache"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    deadline = time.monotonic() + 600
    while not ready() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    sent = time.monotonic()
    proc.terminate()
    _, err = proc.communicate(timeout=900)
    seconds = time.monotonic() - sent
    storage = f"sqlite:///{folder / 'runs' / 'stop.db'}"
    states = [t.state.name for t in optuna.load_study(study_name="stop", storage=storage).trials]
    return {
        "exit_s": round(seconds, 2),
        "exit_code": proc.returncode,
        "trial_states": states,
        "llama_servers_left": len(llama_servers()),
        "said": err.strip().splitlines()[-1:] if err.strip() else [],
    }


def local_case() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = study(folder, 'model = "local/qwen2.5-coder-0.5b"')
        started: list[float] = []

        def generating() -> bool:
            if not started and llama_servers():
                started.append(time.monotonic())
            # the server loads in a few seconds, then generates: stop it well inside
            return bool(started) and time.monotonic() - started[0] > 25

        return stop_after(path, generating, folder)


def slow_case() -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory() as tmp,
        ScriptedOpenAIServer(answer=solving_answer, delay_s=60) as slow,
    ):
        folder = Path(tmp)
        model = (
            f'model = "openai/scripted"\napi_base = "{slow.base_url}"\n'
            'api_key_env = "SCRIPTED_KEY"\nmax_concurrent = 8'
        )
        return stop_after(study(folder, model), lambda: slow.requests >= 2, folder)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    report = {"slow_endpoint": slow_case(), "local_model": local_case(), "goal_s": 5}
    if args.json:
        results = Path(__file__).resolve().parent / "results"
        (results / "stop.json").write_text(json.dumps(report, indent=1))
        print(json.dumps(report))
        return 0
    for case in ("slow_endpoint", "local_model"):
        row = report[case]
        print(
            f"{case}: exit {row['exit_s']} s after SIGTERM (code {row['exit_code']}), "
            f"trial {row['trial_states']}, llama.cpp servers left: {row['llama_servers_left']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
