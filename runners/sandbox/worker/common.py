"""A sandbox worker: runs inside the sandbox under the system interpreter, as one plain
script (never imported by accord). The host joins this folder's parts in the order of
runners/sandbox.py's WORKER_PARTS (this one first, supervisor.py last, which starts it)
and runs the result with ``python -I -c``.

Processes (with bubblewrap the worker is PID 1 of its own pid namespace, so nothing in
the namespace can signal it):
- the supervisor (this process) reads jobs from the host and writes one reply per job;
- the zygote, forked once at start before any job is read, forks the two processes of
  each job, so they inherit a memory that never held a job (no earlier code or tests);
- C, the candidate: reads only its code, loads it, then answers calls of its entry
  point, arguments and results passing as plain data (JSON, tagged for tuples, sets,
  dicts, bytes; no pickle, no objects with behaviour);
- T, the tests: runs the task's preamble (the prompt: imports and helpers) and each test,
  with the entry point bound to a proxy that calls into C. T alone decides each verdict
  and reports it on a pipe C never holds.
Every process is non-dumpable (no /proc/<pid>/mem, fd or ptrace access between them);
C and T run under a seccomp filter (no ptrace, no process_vm_*, no SysV IPC or POSIX
message queues, no keyrings, no execve, no way to become dumpable again) and die with
every other process of the job when it ends. Then the job's writable folders are emptied
and checked; a job that leaves anything behind gets the worker replaced.

argv[1] is "1" when the worker owns its pid namespace (bubblewrap): the zygote may then
kill every process it can see after a job. Host protocol: one JSON job per line on stdin,
{"code", "tests", "entry_points", "preamble", "timeout", "max_timeouts"}; one JSON reply
per line on stdout, {"load": {"load_error"} | null, "outcomes": [[status, error], ...],
"ended": "" | "stalled" | "died" | "restart", "recycle": bool}.
"""

import builtins
import contextlib
import ctypes
import json
import os
import platform
import resource
import select
import signal
import socket
import struct
import sys
import time

MAX_LINE = 16 << 20
"""Longest line any process of a job may send (values, verdicts, the job itself)."""
GRACE_S = 1.0
"""Slack per step beyond the test's own time-out (signal delivery, scheduling)."""
MAX_DEPTH = 100
STATUSES = ("passed", "failed", "error", "timeout")
SANDBOX_WRITABLE = ("/tmp", "/dev/shm")
"""The only writable places of a bubblewrap worker."""
JOB_DIR = os.path.join(os.getcwd(), "accord-jobs")
"""Without bubblewrap, where jobs run (and what is emptied after each): a folder of the
worker's own, inside the private folder the host gave it."""
RERAISED = {
    name: getattr(builtins, name)
    for name in (
        "ArithmeticError", "AssertionError", "AttributeError", "EOFError", "IndexError", "KeyError",
        "LookupError", "MemoryError", "NameError", "NotImplementedError", "OverflowError",
        "RecursionError", "RuntimeError", "TypeError", "UnicodeError", "ValueError",
        "ZeroDivisionError", "Exception",
    )
}  # fmt: skip
"""Exceptions the candidate raised that the tests see as themselves (the rest: RuntimeError).
Never StopIteration: raised from a proxied call inside the tests' generator (``all(map(f,
xs))``) it would end the iteration early and pass a wrong ``f``; PEP 479 turns it into
RuntimeError in generators for the same reason."""
LOAD_TIMEOUT = "timeout while loading the code"
CANDIDATE_SAID = "candidate: "
"""T's prefix to a load error C reported: only T's own texts decide a load's status."""

_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, PR_SET_CHILD_SUBREAPER = 4, 38, 22, 36
