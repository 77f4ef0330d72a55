"""A sandbox worker: runs inside the sandbox under the system interpreter, as a plain
script (never imported by accord).

argv[1] is "1" when the worker owns its pid namespace and uid, so it may kill every
other process it can see after each job. Protocol: one JSON job per line on stdin,
{"code", "tests", "timeout", "deadline"}; one JSON reply per line on stdout,
{"result": {"load_error", "outcomes"} | null, "timed_out": bool}. Each job runs in a
forked child with a fresh work directory, its own process group and its output sent to
/dev/null; the worker enforces the job's deadline and cleans up after it.
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


class _TestTimeout(BaseException):
    pass


def _alarm(signum, frame):
    raise _TestTimeout()


def _describe(exc):
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text[:300]


def _run_tests(job):
    """In the child: load the code, run each test, return the result dict."""
    signal.signal(signal.SIGALRM, _alarm)
    namespace = {"__name__": "__main__"}
    result = {"load_error": None, "outcomes": []}
    try:
        signal.setitimer(signal.ITIMER_REAL, job["timeout"])
        exec(compile(job["code"], "<candidate>", "exec"), namespace)
        signal.setitimer(signal.ITIMER_REAL, 0)
    except _TestTimeout:
        result["load_error"] = "timeout while loading the code"
        return result
    except BaseException as exc:
        signal.setitimer(signal.ITIMER_REAL, 0)
        result["load_error"] = _describe(exc)
        return result
    for test in job["tests"]:
        scope = dict(namespace)
        try:
            signal.setitimer(signal.ITIMER_REAL, job["timeout"])
            exec(compile(test, "<test>", "exec"), scope)
            signal.setitimer(signal.ITIMER_REAL, 0)
            outcome = ["passed", ""]
        except _TestTimeout:
            outcome = ["timeout", f"no result within {job['timeout']:g} s"]
        except AssertionError as exc:
            signal.setitimer(signal.ITIMER_REAL, 0)
            outcome = ["failed", _describe(exc) if str(exc) else "AssertionError"]
        except BaseException as exc:
            signal.setitimer(signal.ITIMER_REAL, 0)
            outcome = ["error", _describe(exc)]
        result["outcomes"].append(outcome)
    return result


def _child(job, workdir, write_fd):
    os.setpgid(0, 0)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.chdir(workdir)
    cpu = int(job["deadline"]) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    sys.setrecursionlimit(3000)
    try:
        payload = json.dumps(_run_tests(job)).encode()
    except BaseException:
        os._exit(1)
    os.write(write_fd, payload[:MAX_RESULT])
    os._exit(0)


def _read_until(fd, deadline):
    chunks, size = [], 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return b"".join(chunks), True
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            continue
        data = os.read(fd, 65536)
        if not data:
            return b"".join(chunks), False
        size += len(data)
        if size <= MAX_RESULT:
            chunks.append(data)


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


def main():
    kill_all = len(sys.argv) > 1 and sys.argv[1] == "1"
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
        data, timed_out = _read_until(read_fd, time.monotonic() + job["deadline"])
        os.close(read_fd)
        _cleanup(pid, kill_all)
        _wipe([base, "/dev/shm"] if kill_all else [base])
        try:
            result = json.loads(data) if data and not timed_out else None
        except ValueError:
            result = None
        channel.write(json.dumps({"result": result, "timed_out": timed_out}).encode() + b"\n")
        channel.flush()


main()
