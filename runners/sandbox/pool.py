"""Execution of generated code: isolated, resource-limited, and fast.

A pool of persistent workers runs inside the sandbox (runners/sandbox/worker/). For each job a
worker starts two fresh processes from a zygote that never saw a job: the candidate,
which holds only its code and answers calls of its entry point with plain data, and the
tests, which run each assert against a proxy of the entry point and alone decide the
verdict, on a channel the candidate cannot reach. With bubblewrap (the default) a worker
is PID 1 of fresh namespaces of every kind (no network), with a read-only root, /usr and
/dev, sized tmpfs /tmp and /dev/shm, an empty environment, no capabilities, a uid no
other running sandbox holds, and a control group capping the memory and processes of
everything it starts (runners/sandbox/isolation.py). After every job it kills the job's every
process and empties its writable folders; a job that leaves anything behind gets its
worker replaced. The worker enforces each step's deadline; the host enforces a longer one
on the worker, replaces a worker that dies or stops answering, and treats any reply it
cannot parse as a failed job: no result is a failure, never a pass.

Without bubblewrap, accord falls back to the same workers as rlimited subprocesses with
an empty environment, warns once, and reports the mode (recorded on every trial).
Outcomes are values: a failing, crashing or hostile candidate is a result; only a sandbox
that cannot start at all raises SandboxError.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import logging
import os
import queue
import shutil
import tempfile
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from accord.runners.procutil import become_subreaper
from accord.runners.sandbox.isolation import Limits, UidLease, bwrap_command, reap_sandbox_orphans
from accord.runners.sandbox.process import Reply, WorkerProcess
from accord.runners.tasks.extract import called_functions
from accord.space.errors import SandboxError

log = logging.getLogger(__name__)

WORKER_PARTS = ("common", "hardening", "values", "candidate", "tests", "zygote", "supervisor")
WORKER = "\n".join(
    (Path(__file__).with_name("worker") / f"{part}.py").read_text(encoding="utf-8") for part in WORKER_PARTS
)
"""The worker script (runners/sandbox/worker/, one file per part), as it runs inside the sandbox."""
SYSTEM_PYTHON = "/usr/bin/python3.11"
MAX_WORKERS = 16
SANDBOX_WORKERS = 2
"""Worker processes of a sandbox by default (each runs one job at a time)."""

__all__ = ["ExecResult", "Executor", "Limits", "Sandbox", "Status", "TestOutcome"]


class Status(StrEnum):
    """A test's outcome: the assert held, was false, raised (or the code did not load),
    or did not finish in time."""

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    TIMEOUT = "timeout"


PASSED, FAILED, ERROR, TIMEOUT = Status.PASSED, Status.FAILED, Status.ERROR, Status.TIMEOUT


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
    """Runs a candidate against test statements. ``entry_point`` is the function the
    tests call (None: the functions the code defines that the tests call); ``preamble``
    is trusted code the tests see (the task's prompt: imports and helpers)."""

    mode: str

    def run(
        self,
        code: str,
        tests: Sequence[str],
        *,
        timeout_s: float,
        entry_point: str | None = None,
        preamble: str = "",
    ) -> ExecResult: ...

    def run_many(
        self,
        jobs: Sequence[tuple[str, Sequence[str]]],
        *,
        timeout_s: float,
        entry_point: str | None = None,
        preamble: str = "",
    ) -> list[ExecResult]: ...


def _failed_all(tests: Sequence[str], status: Status, reason: str) -> ExecResult:
    outcomes = tuple(TestOutcome(test=t, status=status, error=reason, load_error=True) for t in tests)
    return ExecResult(outcomes=outcomes, load_error=reason)


class Sandbox:
    """A pool of ``workers`` sandboxed workers; ``run`` is safe to call from many threads."""

    def __init__(
        self,
        *,
        workers: int = SANDBOX_WORKERS,
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
        self._pool: list[WorkerProcess | None] = [None] * workers
        self._python = (
            SYSTEM_PYTHON if os.path.exists(SYSTEM_PYTHON) else shutil.which("python3") or "python3"
        )
        self._lease = UidLease(workers) if os.geteuid() == 0 else None
        self._uids: list[int | None] = list(self._lease.uids) if self._lease else [None] * workers
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
        # "1": the worker owns its pid namespace and may kill every process it sees
        if self.mode == "bwrap":
            return [*bwrap_command(self.limits), self._python, "-I", "-c", WORKER, "1"]
        return [self._python, "-I", "-c", WORKER, "0"]

    def _bwrap_works(self) -> bool:
        if shutil.which("bwrap") is None or not os.path.exists(SYSTEM_PYTHON):
            return False
        become_subreaper()
        try:
            result = self._execute("def f():\n    return 1\n", ("assert f() == 1",), 5.0, ("f",), "")
        except SandboxError as exc:
            log.warning("bubblewrap probe failed: %s", exc)
            return False
        if not result.all_passed:
            self._discard_all()
        return result.all_passed

    def run(
        self,
        code: str,
        tests: Sequence[str],
        *,
        timeout_s: float,
        entry_point: str | None = None,
        preamble: str = "",
    ) -> ExecResult:
        """``code`` against each of ``tests``. Outcomes are cached per (code, test): only
        pairs never run before reach a worker, so populations that share tests, and
        selection rules that re-run candidates against them, pay once per pair."""
        entry_points = (entry_point,) if entry_point else called_functions(code, tests)
        prefix = json.dumps([code, timeout_s, self.mode, entry_points, preamble])
        keys = [hashlib.sha256(f"{prefix}\0{test}".encode()).hexdigest() for test in tests]
        with self._lock:
            known = {key: self._cache[key] for key in keys if key in self._cache}
        missing = tuple(dict.fromkeys(t for t, k in zip(tests, keys, strict=True) if k not in known))
        if missing:
            fresh = self._execute(code, missing, timeout_s, entry_points, preamble)
            by_test = dict(zip(missing, fresh.outcomes, strict=True))
            with self._lock:
                self.executed_pairs += len(missing)
                for test, key in zip(tests, keys, strict=True):
                    if key not in known:
                        known[key] = self._cache[key] = by_test[test]
        outcomes = tuple(known[key] for key in keys)
        load_error = next((o.error for o in outcomes if o.load_error), "")
        return ExecResult(outcomes=outcomes, load_error=load_error)

    def run_many(
        self,
        jobs: Sequence[tuple[str, Sequence[str]]],
        *,
        timeout_s: float,
        entry_point: str | None = None,
        preamble: str = "",
    ) -> list[ExecResult]:
        """Several jobs at once, spread over the workers; results in order."""
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            return list(
                pool.map(
                    lambda job: self.run(
                        job[0], job[1], timeout_s=timeout_s, entry_point=entry_point, preamble=preamble
                    ),
                    jobs,
                )
            )

    def _execute(
        self,
        code: str,
        tests: tuple[str, ...],
        timeout_s: float,
        entry_points: tuple[str, ...],
        preamble: str,
    ) -> ExecResult:
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
            job = {
                "code": code, "tests": list(remaining), "entry_points": list(entry_points),
                "preamble": preamble, "timeout": timeout_s, "max_timeouts": allowance,
            }  # fmt: skip
            reply, deadline = self._ask(job, len(remaining))
            if reply is None:
                reason = f"the sandbox gave no result within {deadline:g} s"
                return ExecResult(outcomes=(*outcomes, *_failed_all(remaining, TIMEOUT, reason).outcomes))
            if reply.load_error is not None or reply.never_loaded:
                status, reason = reply.load_failure(timeout_s)
                failed = _failed_all(remaining, Status(status), reason).outcomes
                return ExecResult(outcomes=(*outcomes, *failed), load_error=reason)
            pairs = zip(remaining, reply.outcomes, strict=False)
            done = [TestOutcome(test=t, status=Status(s), error=e) for t, (s, e) in pairs]
            outcomes.extend(done)
            remaining = remaining[len(done) :]
            if remaining and not (reply.stopped == "restart" and done):
                # this test stalled or killed its process; the rest run again
                stalled = reply.stopped == "stalled"
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

    def _ask(self, job: dict[str, Any], count: int) -> tuple[Reply | None, float]:
        # the worker answers within (tests + 2) steps of (time-out + its grace)
        deadline = (job["timeout"] + 1.0) * (count + 3) + 5.0
        slot = self._slots.get()
        try:
            for _ in range(3):
                worker = self._worker(slot)
                reply = worker.ask(job, count, deadline)
                if reply is None or reply.recycle:
                    self._retire(slot)  # died, hung or unclean: the next job gets a new one
                if reply is None or reply.stopped != "unstarted":
                    break
        finally:
            self._slots.put(slot)
        return reply, deadline

    def _worker(self, slot: int) -> WorkerProcess:
        worker = self._pool[slot]
        if worker is not None and (not worker.alive() or worker.jobs >= self.recycle_after):
            self._retire(slot)
            worker = None
        if worker is None:
            reap_sandbox_orphans({w.proc.pid for w in self._pool if w is not None})
            workdir = tempfile.mkdtemp(prefix="accord-worker-")
            worker = WorkerProcess(
                self._command(), self._uids[slot], self.limits, workdir, name=f"accord-{os.getpid()}-{slot}"
            )
            self._pool[slot] = worker
        return worker

    def _retire(self, slot: int) -> None:
        worker = self._pool[slot]
        self._pool[slot] = None
        if worker is not None:
            worker.close()

    def _discard_all(self) -> None:
        for slot in range(self.workers):
            self._retire(slot)

    def close(self) -> None:
        """Stop every worker and release the uids (idempotent)."""
        self._discard_all()
        reap_sandbox_orphans(set())
        if self._lease is not None:
            self._lease.release()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
