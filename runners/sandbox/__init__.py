"""The sandbox: where generated code runs, never in accord's process. A pool of
bubblewrap workers (pool), the walls around each (isolation: the command line, a uid of
its own, a control group), the host's side of a worker process (process), and the worker
script itself (worker/, run inside under the system interpreter). Imports only procutil
and accord.space; the loop and the search reach it through ``Executor``."""

from __future__ import annotations

from accord.runners.sandbox.pool import (
    PASSED,
    SANDBOX_WORKERS,
    SYSTEM_PYTHON,
    TIMEOUT,
    ExecResult,
    Executor,
    Limits,
    Sandbox,
    Status,
    TestOutcome,
)

__all__ = [
    "PASSED",
    "SANDBOX_WORKERS",
    "SYSTEM_PYTHON",
    "TIMEOUT",
    "ExecResult",
    "Executor",
    "Limits",
    "Sandbox",
    "Status",
    "TestOutcome",
]
