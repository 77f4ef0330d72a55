"""Locks for studies in a file on this machine (SQLite and journal storages), so that two
`accord run` started at once neither race to create the study nor queue its presets twice
nor run the same trial twice. PostgreSQL storages rely on the database's own row locks.
"""

from __future__ import annotations

import contextlib
import fcntl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO

SQLITE, JOURNAL, POSTGRESQL = "sqlite:///", "journal:///", "postgresql"
"""The storage URL prefixes accord opens (search/study.py)."""
LOCAL_PREFIXES = (SQLITE, JOURNAL)


def lock_path(url: str) -> Path | None:
    """The lock file beside a study file (None: the storage is not a file here)."""
    for prefix in LOCAL_PREFIXES:
        if url.startswith(prefix):
            return Path(url.removeprefix(prefix) + ".lock")
    return None


_held: dict[Path, tuple[IO[str], int]] = {}
_guard = threading.RLock()


@contextlib.contextmanager
def file_lock(path: Path | None) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (waits for it; a no-op without a path). Nested
    use in one process holds it once (a second flock on the same file would wait on the
    first); threads of the process take turns. The lock ends with the process however it
    ends."""
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with _guard:
        handle, depth = _held.get(path, (None, 0))
        if handle is None:
            handle = path.open("a")
            fcntl.flock(handle, fcntl.LOCK_EX)
        _held[path] = (handle, depth + 1)
        try:
            yield
        finally:
            handle, depth = _held[path]
            if depth == 1:
                del _held[path]
                fcntl.flock(handle, fcntl.LOCK_UN)
                handle.close()
            else:
                _held[path] = (handle, depth - 1)
