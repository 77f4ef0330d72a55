"""Process plumbing shared by the sandbox and the local model servers."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36


def _prctl(option: int, value: int) -> None:
    ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)


def die_with_parent() -> None:
    """In a child before exec: SIGKILL when the parent dies, whatever the cause."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def become_subreaper() -> None:
    """Orphaned descendants come back to this process instead of to PID 1.

    bubblewrap's pid-namespace helper outlives the outer bwrap process. Where PID 1 does
    not reap promptly (containers, micro-VM inits) those zombies pile up and, counted by
    RLIMIT_NPROC for the sandbox uid, end up blocking every later job.
    """
    _prctl(PR_SET_CHILD_SUBREAPER, 1)


def reap_orphans(active: set[int], name: str = "bwrap") -> None:
    """Reap exited children called ``name`` (never one in ``active``, still waited on)."""
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
            comm, state = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2]
            if comm == name and state == "Z":
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL a process started with start_new_session, and its whole group."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
    proc.wait()
