"""The response cache: content-addressed answers in SQLite, shared by every study on the
machine. A call's identity is the model itself (not its alias), the messages, the
sampling parameters and the sample index, so N samples of one prompt stay N samples."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from accord.runners.llm.records import LLMRequest, ModelSpec


class ResponseCache:
    """Answers in SQLite (WAL): safe under concurrent threads and processes."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._local = threading.local()
        with self._connect() as db:
            db.execute("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, value TEXT NOT NULL)")

    def _connect(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    def get(self, key: str) -> dict[str, Any] | None:
        row = self._connect().execute("SELECT value FROM responses WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, value: Mapping[str, Any]) -> None:
        self._connect().execute(
            "INSERT OR IGNORE INTO responses (key, value) VALUES (?, ?)", (key, json.dumps(value))
        )


def cache_key(spec: ModelSpec, request: LLMRequest) -> str:
    """Identity of a call: the model itself (not its alias), the prompt, the sampling
    parameters and the sample index."""
    identity = {
        "model": spec.model,
        "api_base": None if spec.is_local else spec.api_base,
        "messages": [dict(m) for m in request.messages],
        "temperature": request.temperature,
        "top_p": request.top_p,
        "max_tokens": request.max_tokens,
        "sample": request.sample,
    }
    if request.draw:  # draw 0 keeps the keys of every answer cached before draws existed
        identity["draw"] = request.draw
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
