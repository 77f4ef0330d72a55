"""A private PostgreSQL cluster for the tests and benchmarks of distributed storage: a
test helper, not part of accord."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

from accord.runners.procutil import free_port


class PostgresCluster:
    """A private PostgreSQL cluster on 127.0.0.1 for tests and benchmarks (root only:
    initdb refuses root, so the cluster runs as the ``postgres`` user). ``url`` is a
    SQLAlchemy URL of an empty database. Use as a context manager."""

    BIN = "/usr/lib/postgresql/15/bin"

    def __init__(self, database: str = "accord") -> None:
        self.database = database
        self.url = ""
        self._root: str | None = None

    @classmethod
    def available(cls) -> bool:
        return os.path.exists(f"{cls.BIN}/initdb") and shutil.which("runuser") is not None

    def _as_postgres(self, *command: str) -> None:
        # no pipes: the server pg_ctl starts would hold them open and block this call
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *command],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def __enter__(self) -> PostgresCluster:
        root = tempfile.mkdtemp(prefix="accord-pg-")  # outside folders closed to other users
        shutil.chown(root, "postgres", "postgres")
        self._root = root
        port = free_port()
        data = f"{root}/data"
        self._as_postgres(f"{self.BIN}/initdb", "-D", data, "--auth=trust", "-U", "postgres")
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root}"
        self._as_postgres(f"{self.BIN}/pg_ctl", "-D", data, "-l", f"{root}/log", "-o", options, "-w", "start")
        subprocess.run(
            [f"{self.BIN}/createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", self.database],
            check=True,
            capture_output=True,
        )
        self.url = f"postgresql+psycopg2://postgres@127.0.0.1:{port}/{self.database}"
        return self

    def __exit__(self, *exc: object) -> None:
        if self._root is not None:
            self._as_postgres(f"{self.BIN}/pg_ctl", "-D", f"{self._root}/data", "-m", "fast", "stop")
            shutil.rmtree(self._root, ignore_errors=True)
