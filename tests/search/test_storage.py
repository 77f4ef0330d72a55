"""Storages, parallel workers and crash safety, through the CLI in real processes.

Worker processes cannot share an in-process fake, so the model here is a real
OpenAI-compatible endpoint on 127.0.0.1 (accord.runners.testing.ScriptedOpenAIServer)
reached through litellm, answering the toy tasks correctly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest

from accord.runners.testing import ScriptedOpenAIServer, solving_answer
from accord.search.study import make_storage
from tests.helpers import measured
from tests.postgres import PostgresCluster


@pytest.fixture
def server() -> Iterator[ScriptedOpenAIServer]:
    with ScriptedOpenAIServer(answer=solving_answer) as srv:
        yield srv


def write_study(tmp_path: Path, task_file: Path, base_url: str, name: str = "par") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(
        textwrap.dedent(
            f"""
            [study]
            name = "{name}"
            sampler = "tpe"
            seed = 3

            [tasks]
            source = "{task_file}"

            [models.m]
            model = "openai/scripted"
            api_base = "{base_url}"
            api_key_env = "SCRIPTED_KEY"
            input_cost_per_token = 1e-6
            output_cost_per_token = 2e-6
            max_concurrent = 4

            [space]
            coder.temperature = {{low = 0.0, high = 1.0}}
            population.size = [1, 2]
            loop.max_rounds = [0, 1]
            """
        )
    )
    return path


def accord(*args: str, wait: bool = True) -> subprocess.Popen[str]:
    env = {**os.environ, "SCRIPTED_KEY": "sk-test"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "accord.search.cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    if wait:
        proc.wait(timeout=240)
    return proc


def trials(storage: str, name: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=name, storage=make_storage(storage)).get_trials()


def assert_complete_once(found: list[optuna.trial.FrozenTrial], n: int, workers: int) -> None:
    assert [t.number for t in found] == list(range(len(found)))  # none lost, none duplicated
    assert {t.state for t in found} == {optuna.trial.TrialState.COMPLETE}
    # a proposal of a configuration already measured is recorded, free, and not counted
    ran = measured(found)
    assert len(ran) == n and all(t.user_attrs["budget_spend"] == 0 for t in found if t not in ran)
    assert all(t.values == [1.0, t.values[1]] and t.values[1] > 0 for t in found)
    assert len({t.user_attrs["worker"] for t in ran}) == workers


def test_two_local_workers_share_a_journal_study(
    tmp_path: Path, task_file: Path, server: ScriptedOpenAIServer
) -> None:
    path = write_study(tmp_path, task_file, server.base_url)
    storage = f"journal:///{tmp_path / 'par.journal'}"
    proc = accord("run", str(path), "--storage", storage, "--workers", "2", "--n-trials", "6")
    out, err = proc.communicate()
    assert proc.returncode == 0, err
    assert "with 2 workers" in err and "Pareto front" in out
    assert_complete_once(trials(storage, "par"), 6, workers=2)


def test_a_worker_killed_mid_trial_is_swept_and_its_trial_retried(tmp_path: Path, task_file: Path) -> None:
    with ScriptedOpenAIServer(answer=solving_answer, delay_s=0.4) as slow:
        path = write_study(tmp_path, task_file, slow.base_url, name="crash")
        storage = f"sqlite:///{tmp_path / 'crash.db'}"
        # created here first, so polling it below never races the schema's creation
        optuna.create_study(
            study_name="crash", storage=make_storage(storage), directions=["maximize", "minimize"]
        )
        proc = accord("run", str(path), "--storage", storage, "--n-trials", "3", wait=False)
        deadline = time.monotonic() + 120
        running: list[optuna.trial.FrozenTrial] = []
        while time.monotonic() < deadline and not running:
            time.sleep(0.3)
            try:
                running = [
                    t
                    for t in trials(storage, "crash")
                    if t.state.name == "RUNNING" and "worker" in t.user_attrs
                ]
            except Exception:  # a busy database: look again
                continue
        if not running:
            proc.kill()
            pytest.fail(f"no trial started: {proc.communicate()[1][-2000:]}")
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        killed = running[0].number
        assert trials(storage, "crash")[killed].state.name == "RUNNING"  # left behind by the dead worker

        again = accord("run", str(path), "--storage", storage, "--n-trials", "1")
        _, err = again.communicate()
        assert again.returncode == 0, err
        assert f"trials {killed} were left RUNNING" in err
    found = trials(storage, "crash")
    assert "RUNNING" not in {t.state.name for t in found}
    assert found[killed].state.name == "FAIL" and "died" in found[killed].user_attrs["stopped"]
    retry = [t for t in found if t.user_attrs.get("retry_of") == killed]
    assert len(retry) == 1 and retry[0].state.name == "COMPLETE"
    # the retry repeats every choice the dead trial had made; a kill that lands while the
    # configuration is being suggested leaves the rest to be sampled afresh
    assert found[killed].params.items() <= retry[0].params.items()


@pytest.fixture
def postgres() -> Iterator[str]:
    if not PostgresCluster.available():
        pytest.skip("PostgreSQL 15 binaries not installed (make setup installs postgresql-15)")
    pytest.importorskip("psycopg2")
    with PostgresCluster() as cluster:
        yield cluster.url


def test_two_workers_on_postgresql_complete_one_study(
    tmp_path: Path, task_file: Path, server: ScriptedOpenAIServer, postgres: str
) -> None:
    path = write_study(tmp_path, task_file, server.base_url, name="pg")
    # two separate `accord run` invocations, as on two machines, plus a local pair
    first = accord("run", str(path), "--storage", postgres, "--n-trials", "3", wait=False)
    time.sleep(1.0)  # the first creates the study; the second finds it
    second = accord("run", str(path), "--storage", postgres, "--n-trials", "3", wait=False)
    for proc in (first, second):
        _, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
    assert_complete_once(trials(postgres, "pg"), 6, workers=2)
    storage = make_storage(postgres)
    assert isinstance(storage, optuna.storages.RDBStorage) and storage.get_heartbeat_interval() == 20


def test_simultaneous_runs_on_a_fresh_sqlite_study_are_safe(
    tmp_path: Path, task_file: Path, server: ScriptedOpenAIServer
) -> None:
    """Two terminals, one command each, at the same moment: twenty times, on a new study
    every time. No traceback, no trial run twice, no preset queued twice."""
    for pair in range(20):
        name = f"twin{pair}"
        path = write_study(tmp_path, task_file, server.base_url, name=name)
        path.write_text(path.read_text().replace("seed = 3\n", 'seed = 3\npresets = ["single-shot"]\n'))
        runs = [accord("run", str(path), "--n-trials", "2", wait=False) for _ in range(2)]
        outputs = [run.communicate(timeout=240) for run in runs]
        for run, (out, err) in zip(runs, outputs, strict=True):
            assert run.returncode == 0, err[-2000:]
            assert "Traceback" not in err + out
        found = trials(f"sqlite:///{tmp_path / 'runs' / f'{name}.db'}", name)
        assert len(found) == 4 and all(t.state.name == "COMPLETE" for t in found), [t.state for t in found]
        assert [t.user_attrs.get("preset") for t in found].count("single-shot") == 1
        # each trial ran in one process only: its worker attribute names one process
        assert len({t.user_attrs["worker"] for t in found}) == 2


def test_sigterm_stops_a_run_waiting_on_a_slow_endpoint_within_seconds(
    tmp_path: Path, task_file: Path
) -> None:
    with ScriptedOpenAIServer(answer=solving_answer, delay_s=60.0) as slow:
        path = write_study(tmp_path, task_file, slow.base_url, name="stop")
        storage = f"sqlite:///{tmp_path / 'stop.db'}"
        proc = accord("run", str(path), "--storage", storage, "--n-trials", "2", "--no-cache", wait=False)
        deadline = time.monotonic() + 120
        while slow.requests < 2 and time.monotonic() < deadline:  # calls in flight, each 60 s long
            time.sleep(0.1)
        assert slow.requests >= 2, proc.communicate()[1][-2000:]
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        took = time.monotonic() - sent
    assert took < 5, f"exit {took:.1f} s after SIGTERM"
    assert proc.returncode == 130 and "interrupted" in err
    assert [t.state.name for t in trials(storage, "stop")] == ["FAIL"]
