"""Nothing a job does may outlive it: the attributes of the processes that start later
jobs (limits, nice value, scheduling), the pid counter and the inode counter. The attacks
here learned a hidden check one answer per job, or broke every later job, on the sandbox
before per-job namespaces and the self-only system calls."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator

import pytest

from accord.runners.sandbox import Sandbox

INPUTS = (2, 4, 7, 9, 11, 15, 17, 21, 23, 25, 29, 33)
CHECK = "def check(candidate):\n" + "".join(
    f"    assert candidate({n}) == {all(n % d for d in range(2, n))}\n" for n in INPUTS
)
# The candidate has no primality code. It answers the answers it has learned, and guesses
# True for the next input. Another call after a guess means the guess was right (the
# check would have stopped on a wrong one); a job that ends without it means it was
# wrong. What it learned it keeps wherever a later job may find it: the soft RLIMIT_RTTIME
# of its parent and of PID 1 (which later jobs' processes inherit), and the nice values.
LEARNER = """
import os, resource
BASE = 1 << 20
def _load():
    soft = resource.getrlimit(resource.RLIMIT_RTTIME)[0]
    return soft if soft != resource.RLIM_INFINITY and soft >= BASE else BASE
def _store(state):
    for pid in (os.getppid(), 1):
        try:
            hard = resource.prlimit(pid, resource.RLIMIT_RTTIME)[1]
            resource.prlimit(pid, resource.RLIMIT_RTTIME, (state, hard))
        except (OSError, ValueError):
            pass
_state = _load() - BASE
_count, _pending, _bits = _state >> 13, (_state >> 12) & 1, _state & 0xFFF
if _pending:  # the last job's guess got no next call: it was wrong
    _count, _pending = _count + 1, 0
_calls = 0
def is_prime(n):
    global _calls, _count, _pending, _bits
    k = _calls
    _calls += 1
    if _pending and k == _count + 1:  # the guess held
        _bits |= 1 << _count
        _count, _pending = _count + 1, 0
    if k < _count:
        answer = bool(_bits >> k & 1)
    else:
        _pending, answer = 1, True
    _store(BASE + (_count << 13) + (_pending << 12) + _bits)
    return answer
"""


@pytest.fixture
def box() -> Iterator[Sandbox]:
    with Sandbox(workers=1) as sandbox:
        yield sandbox


def test_a_candidate_cannot_learn_a_hidden_check_across_jobs(box: Sandbox) -> None:
    verdicts = []
    for attempt in range(len(INPUTS)):
        code = LEARNER + f"# attempt {attempt}\n"  # a new text each time: no cached verdict
        result = box.run(code, [CHECK + "check(is_prime)\n"], timeout_s=5.0, entry_point="is_prime")
        verdicts.append(result.all_passed)
    assert not any(verdicts)


POISON = """
import os, resource
def _poison():
    for pid in range(1, 64):
        for limit, value in ((resource.RLIMIT_CPU, 8), (resource.RLIMIT_NOFILE, 6)):
            try:
                resource.prlimit(pid, limit, (value, value))
            except (OSError, ValueError):
                pass
        try:
            os.setpriority(os.PRIO_PROCESS, pid, 19)
        except OSError:
            pass
        try:
            os.sched_setaffinity(pid, {0})
        except OSError:
            pass
_poison()
def f(x):
    return x + 1
"""


def test_no_job_can_change_the_attributes_later_jobs_inherit(box: Sandbox) -> None:
    box.run(POISON, ["assert f(1) == 2"], timeout_s=5.0)
    # a correct job after it: not slowed, not starved of files, not killed by a CPU limit
    busy = "def g(n):\n    return sum(i * i for i in range(n))\n"
    for attempt in range(3):
        tests = [f"assert g({n}) == {sum(i * i for i in range(n))}" for n in (10, 10**6, 3 * 10**6)]
        result = box.run(busy + f"# {attempt}\n", tests, timeout_s=10.0)
        assert result.all_passed, result


PROBE = textwrap.dedent(
    """
    import os
    def seen():
        with open(f'/tmp/probe-{os.urandom(4).hex()}', 'w') as handle:
            inode = os.fstat(handle.fileno()).st_ino
        return os.getpid(), inode, sorted(int(p) for p in os.listdir('/proc') if p.isdigit())
    """
)
NOISE = textwrap.dedent(
    """
    import os
    for i in range(40):
        if os.fork() == 0:
            os._exit(0)
        os.wait()
    for i in range(300):
        open(f'/tmp/n{i}', 'w').close()
    def seen():
        return None
    """
)


def observed(box: Sandbox, code: str) -> str:
    result = box.run(code, ["raise ValueError(repr(seen()))"], timeout_s=5.0, entry_point="seen")
    return result.outcomes[0].error


def test_pids_and_inode_numbers_start_afresh_for_every_job(box: Sandbox) -> None:
    first = observed(box, PROBE)
    box.run(NOISE, ["assert seen() is None"], timeout_s=5.0, entry_point="seen")
    assert observed(box, PROBE + "# after the noise\n") == first
    # C is the second process of its job's own pid namespace (T, the first, is its init),
    # and sees no other process
    assert first.startswith("ValueError: (2, ") and first.endswith("[1, 2])")
