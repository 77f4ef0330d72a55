"""One sandbox worker process as the host sees it: started in its control group under
its own uid and limits, asked one job at a time, its replies parsed strictly (anything
malformed counts as a dead worker, never as a result), and stopped with everything it
started."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import select
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import Any

from accord.runners.procutil import die_with_parent, kill_group, spawn
from accord.runners.sandbox.isolation import Cgroup, Limits
from accord.space.errors import SandboxError

MAX_REPLY = 64 << 20
STATUSES = ("passed", "failed", "error", "timeout")
STOPS = ("", "stalled", "died", "restart", "unstarted")


LOAD_TIMEOUT = "timeout while loading the code"
CANDIDATE_SAID = "candidate: "
"""As the worker's T writes them (runners/sandbox/worker/common.py)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    """A worker's answer to one job."""

    load_error: str | None
    """Why the code did not load (None: it loaded, or the job stopped before saying)."""
    never_loaded: bool
    """The job stopped before the load step reported (the process died or stalled)."""
    outcomes: tuple[tuple[str, str], ...]
    """(status, error) of the first tests, in order."""
    stopped: str
    """"": every test ran; "stalled" or "died": the next test hung or killed its process;
    "restart": the candidate broke during the last test, the rest need a fresh one;
    "unstarted": the job did not run (the worker's last job left something behind): run
    it on a new worker."""
    recycle: bool
    """The job left something behind: the worker must be replaced."""

    def load_failure(self, timeout_s: float) -> tuple[str, str]:
        """(status, reason) for every test when the code did not load."""
        if self.load_error == LOAD_TIMEOUT:  # T's own word: C did not load in time
            return "timeout", f"{LOAD_TIMEOUT} ({timeout_s:g} s)"
        if self.load_error is not None:  # what C raised, as T relayed it
            return "error", f"code failed to load: {self.load_error.removeprefix(CANDIDATE_SAID)}"
        if self.stopped == "stalled":
            return "timeout", f"{LOAD_TIMEOUT} ({timeout_s:g} s)"
        return "error", "the candidate's process died while loading the code"


def parse_reply(line: bytes, count: int) -> Reply | None:
    """The reply of a job of ``count`` tests, or None when it is malformed."""
    try:
        data = json.loads(line)
    except ValueError:
        return None
    if type(data) is not dict or set(data) != {"load", "outcomes", "ended", "recycle"}:
        return None
    load, outcomes, stopped, recycle = data["load"], data["outcomes"], data["ended"], data["recycle"]
    if load is not None and not (type(load) is dict and type(load.get("load_error")) in (str, type(None))):
        return None
    if (
        type(outcomes) is not list
        or len(outcomes) > count
        or stopped not in STOPS
        or type(recycle) is not bool
    ):
        return None
    parsed = []
    for item in outcomes:
        if not (type(item) is list and len(item) == 2 and item[0] in STATUSES and type(item[1]) is str):
            return None
        parsed.append((item[0], item[1][:300]))
    if stopped == "" and load is not None and load.get("load_error") is None and len(parsed) < count:
        return None  # claims to be done without a verdict for every test
    return Reply(
        load_error=None if load is None else load.get("load_error"),
        never_loaded=load is None,
        outcomes=tuple(parsed),
        stopped=stopped,
        recycle=recycle,
    )


def _limits(limits: Limits, *, cgroup: bool) -> dict[int, int]:
    memory = limits.memory_mb * 1024 * 1024
    return {
        resource.RLIMIT_AS: memory,
        resource.RLIMIT_NPROC: limits.max_processes if cgroup else limits.fallback_processes,
        resource.RLIMIT_FSIZE: limits.max_file_mb * 1024 * 1024,
        resource.RLIMIT_CORE: 0,
    }


class WorkerProcess:
    """One persistent worker and its pipes."""

    def __init__(
        self, command: list[str], uid: int | None, limits: Limits, workdir: str, *, name: str
    ) -> None:
        self.jobs = 0
        self.workdir = workdir
        self._known_inner: list[int] = []
        """Noted while the outer bwrap lives: once it dies, /proc no longer names them."""
        self._buffer = b""
        self.cgroup = Cgroup.create(name, limits)
        rlimits = _limits(limits, cgroup=self.cgroup is not None)
        cgroup = self.cgroup
        if uid is not None:
            os.chown(workdir, uid, uid)

        def preexec() -> None:  # in the child, as the host's user, before the sandbox starts
            die_with_parent()
            if cgroup is not None:
                cgroup.enter()
            for kind, value in rlimits.items():
                resource.setrlimit(kind, (value, value))
            if uid is not None:
                os.setgroups([])
                os.setgid(uid)
                os.setuid(uid)

        try:
            self.proc = spawn(
                lambda: subprocess.Popen(
                    command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                    cwd=workdir, env={}, start_new_session=True, preexec_fn=preexec,
                )
            )  # fmt: skip
        except (OSError, subprocess.SubprocessError) as exc:
            self._cleanup()
            raise SandboxError(f"cannot start a sandbox worker: {exc}") from exc

    def ask(self, job: dict[str, Any], count: int, deadline_s: float) -> Reply | None:
        """The worker's reply, or None when it died, missed the deadline or said nonsense."""
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
            if not data or len(self._buffer) + len(data) > MAX_REPLY:
                return None
            self._buffer += data
        line, _, self._buffer = self._buffer.partition(b"\n")
        if not self._known_inner:  # it answered, so bubblewrap's inner process exists
            self._known_inner = self._inner()
        return parse_reply(line, count)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def _inner(self) -> list[int]:
        """bubblewrap's sandboxed child (PID 1 inside): it outlives the outer bwrap for a
        moment and then comes back to us (a subreaper) to be reaped."""
        with contextlib.suppress(OSError):
            path = f"/proc/{self.proc.pid}/task/{self.proc.pid}/children"
            return [int(pid) for pid in open(path).read().split()]
        return []

    def close(self) -> None:
        inner = sorted(set(self._inner()) | set(self._known_inner))
        kill_group(self.proc)
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()
        deadline = time.monotonic() + 2.0
        for pid in inner:  # it dies with its parent (PR_SET_PDEATHSIG); reap it
            if not _reaped(pid, deadline):
                # a loaded machine can take longer to tear a namespace down: never leave
                # the zombie behind (it counts against the sandbox uid's process limit)
                threading.Thread(target=_reap, args=(pid,), daemon=True).start()
        self._cleanup()

    def _cleanup(self) -> None:
        if self.cgroup is not None:
            self.cgroup.remove()
        shutil.rmtree(self.workdir, ignore_errors=True)


def _reaped(pid: int, deadline: float) -> bool:
    """Poll for the exit of our child ``pid`` until ``deadline``; True once it is gone."""
    while time.monotonic() < deadline:
        try:
            if os.waitpid(pid, os.WNOHANG)[0]:
                return True
        except ChildProcessError:
            return True
        time.sleep(0.01)
    return False


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
