from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from accord.runners.procutil import free_port
from accord.runners.testing import ScriptedBackend
from accord.search.cli import main
from accord.search.dashboard import start_dashboard
from accord.search.studyfile import load_study


def get_json(url: str, deadline: float) -> dict:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return json.loads(response.read())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def test_dashboard_serves_the_study_with_user_attributes(
    study_file: Callable[..., Path], fake_backend: ScriptedBackend
) -> None:
    path = study_file()
    assert main(["run", str(path), "--n-trials", "2"]) == 0
    definition = load_study(path)
    proc, url = start_dashboard(definition.storage, definition.artifact_dir)
    try:
        base = url.removesuffix("/dashboard")
        summaries = get_json(f"{base}/api/studies", time.monotonic() + 60)["study_summaries"]
        (summary,) = [s for s in summaries if s["study_name"] == "s"]
        detail = get_json(f"{base}/api/studies/{summary['study_id']}", time.monotonic() + 30)
        assert len(detail["trials"]) == 2
        assert detail["objective_names"] == ["pass_rate", "cost"]
        keys = {attr["key"] for attr in detail["trials"][0]["user_attrs"]}
        assert {"alignment_rate", "false_alignment_rate", "tokens", "calls", "config"} <= keys
        assert len(detail["trials"][0]["artifacts"]) == 2
        with urllib.request.urlopen(url, timeout=5) as page:
            assert page.status == 200 and b"<html" in page.read().lower()
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.parametrize("signal_", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_stopping_accord_dashboard_leaves_no_dashboard_behind(
    study_file: Callable[..., Path], fake_backend: ScriptedBackend, signal_: signal.Signals
) -> None:
    path = study_file()
    assert main(["run", str(path), "--n-trials", "1"]) == 0
    port = free_port()
    accord = subprocess.Popen(
        [sys.executable, "-m", "accord.search.cli", "dashboard", str(path), "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        get_json(f"http://127.0.0.1:{port}/api/studies", time.monotonic() + 60)
        children = Path(f"/proc/{accord.pid}/task/{accord.pid}/children").read_text().split()
        assert children, "the dashboard runs as accord's child"
        accord.send_signal(signal_)
        accord.wait(timeout=30)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(alive(int(pid)) for pid in children):
            time.sleep(0.1)
        assert not any(alive(int(pid)) for pid in children)
        if signal_ == signal.SIGTERM:
            assert accord.returncode == 0 and "Traceback" not in (
                accord.stderr.read() if accord.stderr else ""
            )
    finally:
        if accord.poll() is None:
            accord.kill()


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
