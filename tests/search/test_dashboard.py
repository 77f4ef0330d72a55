from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

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
