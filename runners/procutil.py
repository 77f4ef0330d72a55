"""Process plumbing shared by the sandbox and the local model servers."""

from __future__ import annotations

import contextlib
import ctypes
import os
import queue
import signal
import socket
import subprocess
import threading
from collections.abc import Callable
from typing import Any, TypeVar, cast

T = TypeVar("T")

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


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL a process started with start_new_session, and its whole group."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
    proc.wait()


class _Spawner:
    """Runs process-starting functions on one thread that lives as long as the process.

    Linux ties PR_SET_PDEATHSIG (ours, and bubblewrap's --die-with-parent) to the parent
    *thread*: a child started from a short-lived worker thread is killed when that
    thread exits. Starting every long-lived child from here keeps them alive until the
    process itself ends, when they should die.
    """

    def __init__(self) -> None:
        self._requests: queue.Queue[tuple[Callable[[], Any], queue.Queue[tuple[bool, Any]]]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def _loop(self) -> None:
        while True:
            factory, reply = self._requests.get()
            try:
                reply.put((True, factory()))
            except BaseException as exc:
                reply.put((False, exc))

    def call(self, factory: Callable[[], T]) -> T:
        if threading.current_thread() is threading.main_thread():
            return factory()
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="accord-spawner", daemon=True)
                self._thread.start()
        reply: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=1)
        self._requests.put((factory, reply))
        ok, value = reply.get()
        if not ok:
            raise value
        return cast(T, value)


_spawner = _Spawner()


def spawn(factory: Callable[[], T]) -> T:
    """Call ``factory`` (which starts a child process) from a thread that outlives it."""
    return _spawner.call(factory)
