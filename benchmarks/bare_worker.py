"""The benchmark's baseline: accord's sandbox worker before the candidate and the tests
ran in separate processes (one forked child per job runs both), used with no isolation
at all. It measures what bare fork-per-job execution costs; never use it for generated
code. benchmarks/sandbox.py runs it as a plain script.

argv[1] is "1" when the worker owns its pid namespace and uid, so it may kill every
other process it can see after each job. Protocol: one JSON job per line on stdin,
{"code", "tests", "timeout", "max_timeouts"}; one JSON reply per line on stdout, {"load": {"load_error"}
| null, "outcomes": [[status, error], ...], "stopped": "" | "stalled" | "died"}. Each
job runs in a forked child with a fresh work directory, its own process group and its
output sent to /dev/null. The child reports each step (loading, then every test) as it
ends; the worker gives each step the test time-out plus a grace period, so a test stuck
in C code, or one that kills its process, ends the job there and the reply says which
tests ran. The worker then cleans up after the job.
"""

import contextlib
import json
import os
import resource
import select
import shutil
import signal
import sys
import time

MAX_RESULT = 1 << 20
GRACE_S = 1.0
"""Slack per step beyond the test's own time-out (signal delivery, scheduling)."""


class _TestTimeout(BaseException):
    pass


def _alarm(signum, frame):
    raise _TestTimeout()


def _describe(exc):
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text[:300]


def _run_tests(job, emit):
    """In the child: load the code, then run each test, emitting one line per step as it
    ends, so a test that hangs or kills the process costs only itself."""
    signal.signal(signal.SIGALRM, _alarm)
    namespace = {"__name__": "__main__"}
    try:
        signal.setitimer(signal.ITIMER_REAL, job["timeout"])
        exec(compile(job["code"], "<candidate>", "exec"), namespace)
        signal.setitimer(signal.ITIMER_REAL, 0)
    except _TestTimeout:
        emit({"load_error": "timeout while loading the code"})
        return
    except BaseException as exc:
        signal.setitimer(signal.ITIMER_REAL, 0)
        emit({"load_error": _describe(exc)})
        return
    emit({"load_error": None})
    timeouts = 0
    for test in job["tests"]:
        if timeouts >= job["max_timeouts"]:  # a candidate that keeps hanging is not waited on
            emit(["timeout", f"not run: the code already timed out on {timeouts} tests"])
            continue
        scope = dict(namespace)
        try:
            signal.setitimer(signal.ITIMER_REAL, job["timeout"])
            exec(compile(test, "<test>", "exec"), scope)
            signal.setitimer(signal.ITIMER_REAL, 0)
            outcome = ["passed", ""]
        except _TestTimeout:
            timeouts += 1
            outcome = ["timeout", f"no result within {job['timeout']:g} s"]
        except AssertionError as exc:
            signal.setitimer(signal.ITIMER_REAL, 0)
            outcome = ["failed", _describe(exc) if str(exc) else "AssertionError"]
        except BaseException as exc:
            signal.setitimer(signal.ITIMER_REAL, 0)
            outcome = ["error", _describe(exc)]
        emit(outcome)


def _child(job, workdir, write_fd):
    os.setpgid(0, 0)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.chdir(workdir)
    cpu = int((job["timeout"] + GRACE_S) * (len(job["tests"]) + 1)) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    sys.setrecursionlimit(3000)

    def emit(item):
        os.write(write_fd, json.dumps(item).encode() + b"\n")

    try:
        _run_tests(job, emit)
    except BaseException:
        os._exit(1)
    os._exit(0)


def _read_steps(fd, steps, window):
    """Up to ``steps`` JSON lines; each must arrive within ``window`` s of the one before.
    Returns (items, why it stopped early: "" | "stalled" | "died")."""
    items, buffer, size = [], b"", 0
    deadline = time.monotonic() + window + GRACE_S  # the first step includes the fork
    while len(items) < steps:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return items, "stalled"
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            continue
        data = os.read(fd, 65536)
        if not data:
            return items, "died"
        size += len(data)
        if size > MAX_RESULT:
            return items, "died"
        buffer += data
        while b"\n" in buffer and len(items) < steps:
            line, _, buffer = buffer.partition(b"\n")
            try:
                items.append(json.loads(line))
            except ValueError:
                return items, "died"
            deadline = time.monotonic() + window
    return items, ""


def _cleanup(pid, kill_all):
    with contextlib.suppress(OSError):
        os.killpg(pid, signal.SIGKILL)
    if kill_all:  # every process we can see but ourselves and pid 1
        with contextlib.suppress(OSError):
            os.kill(-1, signal.SIGKILL)
    try:
        os.waitpid(pid, 0)
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass


def _wipe(folders):
    """Nothing a job wrote may reach a later job: empty every writable folder."""
    for folder in folders:
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            path = os.path.join(folder, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    os.unlink(path)


def _preload():
    """Import numpy once, before any fork, so jobs inherit it: HumanEval+'s hidden tests
    import it, which costs about 40 ms per job otherwise. BLAS gets one thread, because
    threads do not survive a fork. A job changes only its own forked copy."""
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    with contextlib.suppress(Exception):
        import numpy  # noqa: F401
    del os.environ["OPENBLAS_NUM_THREADS"]


def main():
    kill_all = len(sys.argv) > 1 and sys.argv[1] == "1"
    _preload()
    base = os.getcwd()
    channel = sys.stdout.buffer
    for number, line in enumerate(sys.stdin.buffer, 1):
        job = json.loads(line)
        workdir = os.path.join(base, f"job{number}")
        os.mkdir(workdir)
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_fd)
            _child(job, workdir, write_fd)
        os.close(write_fd)
        steps, stopped = _read_steps(read_fd, len(job["tests"]) + 1, job["timeout"] + GRACE_S)
        os.close(read_fd)
        _cleanup(pid, kill_all)
        _wipe([base, "/dev/shm"] if kill_all else [base])
        reply = {"load": steps[0] if steps else None, "outcomes": steps[1:], "stopped": stopped}
        if reply["load"] and reply["load"].get("load_error"):
            reply["stopped"] = ""
        channel.write(json.dumps(reply).encode() + b"\n")
        channel.flush()


main()
