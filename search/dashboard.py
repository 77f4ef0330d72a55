"""optuna-dashboard for a study's storage, on 127.0.0.1, with the artifact store."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from accord.runners.procutil import die_with_parent, free_port
from accord.search.locks import JOURNAL
from accord.space.errors import AccordError


def dashboard_command(storage: str, artifact_dir: Path, port: int) -> list[str]:
    beside = Path(sys.executable).with_name("optuna-dashboard")
    program = str(beside) if beside.exists() else shutil.which("optuna-dashboard")
    if program is None:
        raise AccordError("optuna-dashboard is not installed (pip install optuna-dashboard)")
    artifact_dir.mkdir(parents=True, exist_ok=True)
    return [
        program,
        storage.removeprefix(JOURNAL),  # the dashboard opens a journal file by its path
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--artifact-dir",
        str(artifact_dir),
    ]


def start_dashboard(
    storage: str, artifact_dir: Path, port: int | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    port = port or free_port()
    proc = subprocess.Popen(
        dashboard_command(storage, artifact_dir, port),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=die_with_parent,  # even a SIGKILLed accord leaves no dashboard behind
    )
    return proc, f"http://127.0.0.1:{port}/dashboard"
