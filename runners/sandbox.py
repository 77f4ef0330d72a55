"""Execution of generated code: a separate, isolated, resource-limited process per job.

With bubblewrap (the default) a job runs in fresh namespaces of every kind (no network,
loopback included), with /usr read-only, a tmpfs work dir, an empty environment, no
capabilities, as an unprivileged uid, under rlimits. Without bubblewrap, accord falls
back to an rlimited subprocess with an empty environment, warns once, and reports the
mode (recorded on every trial). Outcomes are values: a failing, crashing or hanging
candidate is a result; only a sandbox that cannot start at all raises SandboxError.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import logging
import os
import resource
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from accord.space.errors import SandboxError

log = logging.getLogger(__name__)

HARNESS = Path(__file__).with_name("harness.py").read_text(encoding="utf-8")
SYSTEM_PYTHON = "/usr/bin/python3.11"
NOBODY = 65534
PASSED, FAILED, ERROR, TIMEOUT = "passed", "failed", "error", "timeout"


@dataclass(frozen=True, slots=True, kw_only=True)
class TestOutcome:
    test: str
    status: str
    """passed, failed (the assert was false), error (it raised) or timeout."""
    error: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecResult:
    outcomes: tuple[TestOutcome, ...]
    load_error: str = ""
    """Why the code itself did not run (syntax error, crash, time-out); then every test fails."""

    @property
    def passed(self) -> tuple[bool, ...]:
        return tuple(outcome.status == PASSED for outcome in self.outcomes)

    @property
    def all_passed(self) -> bool:
        return bool(self.outcomes) and all(self.passed)


class Executor(Protocol):
    """Runs a candidate against test statements."""

    mode: str

    def run(self, code: str, tests: Sequence[str], *, timeout_s: float) -> ExecResult: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    memory_mb: int = 1024
    max_processes: int = 32
    max_file_mb: int = 16
    max_output_kb: int = 1024


def _failed_all(tests: Sequence[str], status: str, reason: str) -> ExecResult:
    outcomes = tuple(TestOutcome(test=t, status=status, error=reason) for t in tests)
    return ExecResult(outcomes=outcomes, load_error=reason)


def _become_subreaper() -> None:
    """Orphans of our jobs come back to this process instead of to PID 1.

    bubblewrap's pid-namespace helper outlives the outer bwrap process. Where PID 1 does
    not reap promptly (containers, micro-VM inits) those zombies pile up and, counted by
    RLIMIT_NPROC for the sandbox uid, end up blocking every later job.
    """
    PR_SET_CHILD_SUBREAPER = 36
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _reap_orphans(active: set[int]) -> None:
    """Reap exited bwrap helpers re-parented to us (never a job still being waited on)."""
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return
    for tid in tasks:
        try:
            with open(f"/proc/self/task/{tid}/children") as handle:
                children = handle.read().split()
        except OSError:
            continue
        for pid in map(int, children):
            if pid in active:
                continue
            try:
                with open(f"/proc/{pid}/stat") as handle:
                    stat = handle.read()
            except OSError:
                continue
            name, state = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2]
            if name == "bwrap" and state == "Z":
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)


def _bwrap_command(python: str) -> list[str]:
    return [
        "bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--clearenv",
        "--cap-drop", "ALL", "--ro-bind", "/usr", "/usr",
        "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
        "--symlink", "usr/bin", "/bin", "--proc", "/proc", "--dev", "/dev",
        "--tmpfs", "/tmp", "--chdir", "/tmp", "--setenv", "HOME", "/tmp",
        python, "-I", "-c", HARNESS,
    ]  # fmt: skip


class Sandbox:
    """One process per job; isolation by bubblewrap when it works here, else rlimits only."""

    def __init__(self, *, limits: Limits | None = None, use_bwrap: bool | None = None) -> None:
        self.limits = limits or Limits()
        self._lock = threading.Lock()
        self._cache: dict[str, ExecResult] = {}
        self._active: set[int] = set()
        self._python = (
            SYSTEM_PYTHON if os.path.exists(SYSTEM_PYTHON) else shutil.which("python3") or "python3"
        )
        want_bwrap = use_bwrap if use_bwrap is not None else True
        self.mode = "bwrap" if want_bwrap and self._bwrap_works() else "rlimit"
        if self.mode == "rlimit":
            log.warning(
                "SANDBOX DEGRADED: bubblewrap is %s; generated code runs as a plain rlimited "
                "subprocess with network access. Install bubblewrap for isolation.",
                "disabled" if use_bwrap is False else "unavailable",
            )

    def _command(self) -> list[str]:
        if self.mode == "bwrap":
            return _bwrap_command(self._python)
        return [self._python, "-I", "-c", HARNESS]

    def _bwrap_works(self) -> bool:
        if shutil.which("bwrap") is None or not os.path.exists(SYSTEM_PYTHON):
            return False
        _become_subreaper()
        self.mode = "bwrap"
        try:
            result = self._execute("x = 1\n", ("assert x == 1",), 5.0)
        except SandboxError as exc:
            log.warning("bubblewrap probe failed: %s", exc)
            return False
        return result.all_passed

    def _preexec(self, cpu_seconds: int) -> None:
        limits = self.limits
        memory = limits.memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.max_processes, limits.max_processes))
        size = limits.max_file_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    def run(self, code: str, tests: Sequence[str], *, timeout_s: float) -> ExecResult:
        key = hashlib.sha256(json.dumps([code, list(tests), timeout_s, self.mode]).encode()).hexdigest()
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None:
            return cached
        result = self._execute(code, tuple(tests), timeout_s)
        with self._lock:
            self._cache[key] = result
        return result

    def _execute(self, code: str, tests: tuple[str, ...], timeout_s: float) -> ExecResult:
        if not tests:
            return ExecResult(outcomes=())
        job = json.dumps({"code": code, "tests": list(tests), "timeout": timeout_s})
        deadline = timeout_s * (len(tests) + 1) + 5.0
        as_nobody = os.geteuid() == 0
        with tempfile.TemporaryDirectory(prefix="accord-job-") as workdir:
            if as_nobody:
                os.chown(workdir, NOBODY, NOBODY)
            try:
                proc = subprocess.Popen(
                    self._command(),
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    cwd=workdir,
                    env={},
                    start_new_session=True,
                    preexec_fn=lambda: self._preexec(int(deadline) + 1),
                    user=NOBODY if as_nobody else None,
                    group=NOBODY if as_nobody else None,
                    extra_groups=[] if as_nobody else None,
                )
            except OSError as exc:
                raise SandboxError(f"cannot start the sandbox ({self.mode}): {exc}") from exc
            with self._lock:
                self._active.add(proc.pid)
            try:
                out, _ = proc.communicate(job.encode(), timeout=deadline)
            except subprocess.TimeoutExpired:
                return _failed_all(tests, TIMEOUT, f"no result within {deadline:g} s")
            finally:
                _kill_group(proc)
                with self._lock:
                    self._active.discard(proc.pid)
                    if self.mode == "bwrap":
                        _reap_orphans(self._active)
        return self._parse(out[-self.limits.max_output_kb * 1024 :], tests, proc.returncode)

    @staticmethod
    def _parse(out: bytes, tests: tuple[str, ...], returncode: int | None) -> ExecResult:
        lines = out.decode("utf-8", "replace").strip().splitlines()
        try:
            payload = json.loads(lines[-1])
            outcomes = payload["outcomes"]
            load_error = payload["load_error"]
        except (IndexError, ValueError, KeyError, TypeError):
            reason = f"the sandboxed process died (exit status {returncode})"
            return _failed_all(tests, ERROR, reason)
        if load_error:
            return _failed_all(tests, ERROR, f"code failed to load: {load_error}")
        if len(outcomes) != len(tests):
            return _failed_all(tests, ERROR, "the sandboxed process stopped before all tests ran")
        return ExecResult(
            outcomes=tuple(
                TestOutcome(test=test, status=str(status), error=str(error))
                for test, (status, error) in zip(tests, outcomes, strict=True)
            )
        )


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill the job's whole process group: a C-level loop or a forked child ignores the rest."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
