"""Where accord keeps its files on this machine: one home, ``$ACCORD_CACHE_DIR`` or
``~/.cache/accord``, holding the response cache, the assembled model files and the local
servers' logs."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_DIR_ENV = "ACCORD_CACHE_DIR"


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_DIR_ENV) or Path.home() / ".cache" / "accord")


def responses_path() -> Path:
    return cache_dir() / "responses.sqlite"


def models_dir() -> Path:
    return cache_dir() / "models"


def logs_dir() -> Path:
    return cache_dir() / "logs"
