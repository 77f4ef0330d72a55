"""Execution of generated code: isolated, resource-limited, and fast.

A pool of persistent workers runs inside the sandbox; each worker forks one child per
job, so a job costs a fork, not an interpreter start. With bubblewrap (the default)
a worker lives in fresh namespaces of every kind (no network, loopback included), with
/usr read-only, a tmpfs work dir, an empty environment, no capabilities, as an
unprivileged uid of its own, under rlimits; after every job it kills every other
process in its namespace, and it is recycled after ``recycle_after`` jobs. The worker
enforces a job's deadline on its child; the host enforces a longer one on the worker
and replaces a worker that dies or stops answering. No result is a failure, never a
pass.

Without bubblewrap, accord falls back to the same workers as rlimited subprocesses with
an empty environment, warns once, and reports the mode (recorded on every trial).
Outcomes are values: a failing, crashing or hanging candidate is a result; only a
sandbox that cannot start at all raises SandboxError.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import logging
import os
import queue
import resource
import select
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from accord.runners.procutil import become_subreaper, die_with_parent, kill_group, reap_orphans, spawn
from accord.space.errors import SandboxError

log = logging.getLogger(__name__)

WORKER = Path(__file__).with_name("worker.py").read_text(encoding="utf-8")
SYSTEM_PYTHON = "/usr/bin/python3.11"


class Status(StrEnum):
    """A test's outcome: the assert held, was false, raised (or the code did not load),
    or did not finish in time."""

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    TIMEOUT = "timeout"


PASSED, FAILED, ERROR, TIMEOUT = Status.PASSED, Status.FAILED, Status.ERROR, Status.TIMEOUT
UID_BASE = 60000
MAX_WORKERS = 16


@dataclass(frozen=True, slots=True, kw_only=True)
class TestOutcome:
    test: str
    status: Status
    error: str = ""
    load_error: bool = False
    """The code itself did not run (the error says why); the test never ran."""


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

    def run_many(
        self, jobs: Sequence[tuple[str, Sequence[str]]], *, timeout_s: float
    ) -> list[ExecResult]: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    memory_mb: int = 1024
    max_processes: int = 32
    max_file_mb: int = 16


def _failed_all(tests: Sequence[str], status: Status, reason: str) -> ExecResult:
    outcomes = tuple(TestOutcome(test=t, status=status, error=reason, load_error=True) for t in tests)
    return ExecResult(outcomes=outcomes, load_error=reason)


def _bwrap_prefix() -> list[str]:
    return [
        "bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--clearenv",
        "--cap-drop", "ALL", "--ro-bind", "/usr", "/usr",
        "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
        "--symlink", "usr/bin", "/bin", "--proc", "/proc", "--dev", "/dev",
        # shared libraries are found through these (numpy's libblas.so.3 is an
        # alternatives symlink): symlinks and a library index, nothing secret
        "--ro-bind-try", "/etc/alternatives", "/etc/alternatives",
        "--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache",
        "--tmpfs", "/tmp", "--chdir", "/tmp", "--setenv", "HOME", "/tmp",
    ]  # fmt: skip


class _Worker:
    """One persistent worker process and its pipes."""

    def __init__(self, command: list[str], uid: int | None, limits: Limits) -> None:
        self.jobs = 0
        self.workdir = tempfile.mkdtemp(prefix="accord-worker-")
        if uid is not None:
            os.chown(self.workdir, uid, uid)

        def preexec() -> None:
            die_with_parent()
            memory = limits.memory_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
            resource.setrlimit(resource.RLIMIT_NPROC, (limits.max_processes, limits.max_processes))
            size = limits.max_file_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

        try:
            self.proc = spawn(
                lambda: subprocess.Popen(
                    command,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    cwd=self.workdir,
                    env={},
                    start_new_session=True,
                    preexec_fn=preexec,
                    user=uid,
                    group=uid,
                    extra_groups=[] if uid is not None else None,
                )
            )
        except OSError as exc:
            shutil.rmtree(self.workdir, ignore_errors=True)
            raise SandboxError(f"cannot start a sandbox worker: {exc}") from exc
        self._buffer = b""

    def ask(self, job: dict[str, Any], deadline_s: float) -> dict[str, Any] | None:
        """The worker's reply, or None when it died or missed the deadline."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.jobs += 1
        try:
            self.proc.stdin.write(json.dumps(job).encode() + b"\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + deadline_s
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                return None
            data = os.read(fd, 1 << 16)
            if not data:
                return None
            self._buffer += data
        line, _, self._buffer = self._buffer.partition(b"\n")
        try:
            reply: dict[str, Any] = json.loads(line)
        except ValueError:
            return None
        return reply

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        kill_group(self.proc)
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()
        shutil.rmtree(self.workdir, ignore_errors=True)


class Sandbox:
    """A pool of ``workers`` sandboxed workers; ``run`` is safe to call from many threads."""

    def __init__(
        self,
        *,
        workers: int = 2,
        limits: Limits | None = None,
        use_bwrap: bool | None = None,
        recycle_after: int = 200,
        max_timeouts: int = 3,
    ) -> None:
        if not 1 <= workers <= MAX_WORKERS:
            raise SandboxError(f"workers must be between 1 and {MAX_WORKERS}")
        self.limits = limits or Limits()
        self.workers = workers
        self.recycle_after = recycle_after
        self.max_timeouts = max_timeouts
        """A candidate that times out on this many tests of a job is not waited on for the
        rest: they count as time-outs (code that hangs is wrong, and waiting dominates)."""
        self._cache: dict[str, TestOutcome] = {}
        self.executed_pairs = 0
        """(code, test) pairs actually run: cache misses."""
        self._lock = threading.Lock()
        self._slots: queue.Queue[int] = queue.Queue()
        self._pool: list[_Worker | None] = [None] * workers
        self._active: set[int] = set()
        self._python = (
            SYSTEM_PYTHON if os.path.exists(SYSTEM_PYTHON) else shutil.which("python3") or "python3"
        )
        self._root = os.geteuid() == 0
        uid_base = UID_BASE + (os.getpid() % 300) * MAX_WORKERS
        self._uids = [uid_base + slot if self._root else None for slot in range(workers)]
        for slot in range(workers):
            self._slots.put(slot)
        self.mode = "bwrap"
        if use_bwrap is False or not self._bwrap_works():
            self.mode = "rlimit"
            log.warning(
                "SANDBOX DEGRADED: bubblewrap is %s; generated code runs in rlimited "
                "subprocesses with network access. Install bubblewrap for isolation.",
                "disabled" if use_bwrap is False else "unavailable",
            )
        atexit.register(self.close)

    def _command(self) -> list[str]:
        # A worker may kill everything it can see when it owns its pid namespace (bwrap)
        # or at least a uid of its own (root fallback); never the user's own processes.
        kill_all = "1" if self.mode == "bwrap" or self._root else "0"
        program = [self._python, "-I", "-c", WORKER, kill_all]
        return _bwrap_prefix() + program if self.mode == "bwrap" else program

    def _bwrap_works(self) -> bool:
        if shutil.which("bwrap") is None or not os.path.exists(SYSTEM_PYTHON):
            return False
        become_subreaper()
        try:
            result = self._execute("x = 1\n", ("assert x == 1",), 5.0)
        except SandboxError as exc:
            log.warning("bubblewrap probe failed: %s", exc)
            return False
        if not result.all_passed:
            self._discard_all()
        return result.all_passed

    def run(self, code: str, tests: Sequence[str], *, timeout_s: float) -> ExecResult:
        """``code`` against each of ``tests``. Outcomes are cached per (code, test): only
        pairs never run before reach a worker, so populations that share tests, and
        selection rules that re-run candidates against them, pay once per pair."""
        prefix = json.dumps([code, timeout_s, self.mode])
        keys = [hashlib.sha256(f"{prefix}\0{test}".encode()).hexdigest() for test in tests]
        with self._lock:
            known = {key: self._cache[key] for key in keys if key in self._cache}
        missing = tuple(dict.fromkeys(t for t, k in zip(tests, keys, strict=True) if k not in known))
        if missing:
            fresh = self._execute(code, missing, timeout_s)
            by_test = dict(zip(missing, fresh.outcomes, strict=True))
            with self._lock:
                self.executed_pairs += len(missing)
                for test, key in zip(tests, keys, strict=True):
                    if key not in known:
                        known[key] = self._cache[key] = by_test[test]
        outcomes = tuple(known[key] for key in keys)
        load_error = next((o.error for o in outcomes if o.load_error), "")
        return ExecResult(outcomes=outcomes, load_error=load_error)

    def run_many(self, jobs: Sequence[tuple[str, Sequence[str]]], *, timeout_s: float) -> list[ExecResult]:
        """Several jobs at once, spread over the workers; results in order."""
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            return list(pool.map(lambda job: self.run(job[0], job[1], timeout_s=timeout_s), jobs))

    def _worker(self, slot: int) -> _Worker:
        worker = self._pool[slot]
        if worker is not None and (not worker.alive() or worker.jobs >= self.recycle_after):
            self._retire(slot)
            worker = None
        if worker is None:
            worker = _Worker(self._command(), self._uids[slot], self.limits)
            self._pool[slot] = worker
            with self._lock:
                self._active.add(worker.proc.pid)
        return worker

    def _retire(self, slot: int) -> None:
        worker = self._pool[slot]
        self._pool[slot] = None
        if worker is None:
            return
        worker.close()
        with self._lock:
            self._active.discard(worker.proc.pid)
            if self.mode == "bwrap":
                reap_orphans(self._active)

    def _execute(self, code: str, tests: tuple[str, ...], timeout_s: float) -> ExecResult:
        """Run every test; when one hangs or kills its process, it alone is charged with
        that and the tests after it run in a follow-up job."""
        outcomes: list[TestOutcome] = []
        remaining = tests
        while remaining:
            allowance = self.max_timeouts - sum(o.status == TIMEOUT for o in outcomes)
            if allowance <= 0:
                reason = f"not run: the code already timed out on {self.max_timeouts} tests"
                outcomes.extend(TestOutcome(test=t, status=TIMEOUT, error=reason) for t in remaining)
                break
            reply, deadline = self._ask(code, remaining, timeout_s, allowance)
            if reply is None:
                reason = f"the sandbox gave no result within {deadline:g} s"
                return ExecResult(outcomes=(*outcomes, *_failed_all(remaining, TIMEOUT, reason).outcomes))
            stalled = reply.get("stopped") == "stalled"
            load = reply.get("load")
            if not isinstance(load, dict) or load.get("load_error"):
                if isinstance(load, dict):
                    status, reason = ERROR, f"code failed to load: {load['load_error']}"
                elif stalled:
                    status, reason = TIMEOUT, f"timeout while loading the code ({timeout_s:g} s)"
                else:
                    status, reason = ERROR, "the candidate's process died while loading the code"
                failed = _failed_all(remaining, status, reason).outcomes
                return ExecResult(outcomes=(*outcomes, *failed), load_error=reason)
            done = [
                TestOutcome(test=test, status=Status(item[0]), error=str(item[1]))
                for test, item in zip(remaining, reply.get("outcomes") or [], strict=False)
            ]
            outcomes.extend(done)
            remaining = remaining[len(done) :]
            if remaining:  # this test stalled or killed the process; the rest run again
                reason = (
                    f"no result within {timeout_s:g} s"
                    if stalled
                    else "the candidate's process died during this test"
                )
                outcomes.append(
                    TestOutcome(test=remaining[0], status=TIMEOUT if stalled else ERROR, error=reason)
                )
                remaining = remaining[1:]
        return ExecResult(outcomes=tuple(outcomes))

    def _ask(
        self, code: str, tests: tuple[str, ...], timeout_s: float, max_timeouts: int
    ) -> tuple[dict[str, Any] | None, float]:
        # the worker answers within (tests + 1) steps of (time-out + its grace)
        deadline = (timeout_s + 1.0) * (len(tests) + 2) + 5.0
        job = {"code": code, "tests": list(tests), "timeout": timeout_s, "max_timeouts": max_timeouts}
        slot = self._slots.get()
        try:
            reply = self._worker(slot).ask(job, deadline)
            if reply is None:  # the worker died or hung: it is replaced, the job fails
                self._retire(slot)
        finally:
            self._slots.put(slot)
        return reply, deadline

    def _discard_all(self) -> None:
        for slot in range(self.workers):
            self._retire(slot)

    def close(self) -> None:
        """Stop every worker (idempotent)."""
        self._discard_all()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
