"""Runs inside the sandbox, under the system interpreter: never imported by accord.

Reads one job as JSON on stdin: {"code": str, "tests": [str], "timeout": float}.
Writes one JSON line on the result channel (the original stdout); the candidate's own
output goes to /dev/null so it cannot flood or corrupt the channel.
"""

import json
import os
import signal
import sys


class _TestTimeout(BaseException):
    pass


def _alarm(signum, frame):
    raise _TestTimeout()


def _describe(exc):
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text[:300]


def main():
    job = json.loads(sys.stdin.read())
    channel = os.fdopen(os.dup(1), "w")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    sys.setrecursionlimit(3000)
    signal.signal(signal.SIGALRM, _alarm)
    namespace = {"__name__": "__main__"}
    result = {"load_error": None, "outcomes": []}
    try:
        signal.setitimer(signal.ITIMER_REAL, job["timeout"])
        exec(compile(job["code"], "<candidate>", "exec"), namespace)
        signal.setitimer(signal.ITIMER_REAL, 0)
    except _TestTimeout:
        result["load_error"] = "timeout while loading the code"
    except BaseException as exc:
        signal.setitimer(signal.ITIMER_REAL, 0)
        result["load_error"] = _describe(exc)
    if result["load_error"] is None:
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
    channel.write(json.dumps(result) + "\n")
    channel.flush()
    os._exit(0)


main()
