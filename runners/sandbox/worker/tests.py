# Part of the sandbox worker script (see common.py): tests.
# -- T: the tests --------------------------------------------------------------------------


class CandidateGone(BaseException):
    """C stopped answering (it died, or a call was cut off): later tests need a fresh C."""


class Proxy:
    """The candidate's functions as the tests see them: calls cross as plain data."""

    def __init__(self, request_fd, response_fd):
        self.requests = Channel(write_fd=request_fd)
        self.responses = Channel(read_fd=response_fd)
        self.broken = ""

    def load(self, timeout_s):
        deadline = time.monotonic() + timeout_s
        try:
            answer = self.responses.receive(deadline)
        except ValueError:
            answer = ""
        if type(answer) is dict and answer.get("loaded") is True:
            return None
        if type(answer) is dict and type(answer.get("load_error")) is str:
            return (CANDIDATE_SAID + answer["load_error"])[:300]
        if answer is None:  # nothing: in time, C is gone; at the deadline, C is too slow
            return (
                LOAD_TIMEOUT if time.monotonic() >= deadline else "the candidate's process died while loading"
            )
        return "the candidate sent no valid answer"

    def function(self, name):
        def call(*args, **kwargs):
            return self.call(name, args, kwargs)

        call.__name__ = call.__qualname__ = name
        return call

    def call(self, name, args, kwargs):
        if self.broken:
            raise CandidateGone(self.broken)
        message = {
            "call": name,
            "args": [encode(a) for a in args],
            "kwargs": {k: encode(v) for k, v in kwargs.items()},
        }
        self.broken = "the candidate's process died during this test"
        try:
            self.requests.send(message)
            answer = self.responses.receive()
        except _TestTimeout:
            self.broken = "the candidate did not answer in time"
            raise
        except (OSError, ValueError) as exc:
            raise CandidateGone(self.broken) from exc
        if answer is None:
            raise CandidateGone(self.broken)
        self.broken = ""
        return self._result(answer)

    def _result(self, answer):
        if type(answer) is not dict or len(answer) != 1:
            raise RuntimeError("the candidate sent a malformed answer")
        ((kind, body),) = answer.items()
        if kind == "value":
            try:
                return decode(body)
            except (ValueError, TypeError, RecursionError) as exc:
                raise RuntimeError("the candidate sent a malformed value") from exc
        if kind == "raised" and type(body) is list and len(body) == 2 and all(type(x) is str for x in body):
            name, message = body
            raise (RERAISED.get(name) or RuntimeError)(message if name in RERAISED else f"{name}: {message}")
        if kind == "unencodable" and type(body) is str:
            raise TypeError(f"the result cannot cross the sandbox: {body}")
        raise RuntimeError("the candidate sent a malformed answer")


def tests_main(devnull, job_fd, request_fd, response_fd, verdict_fd):
    job = _read_all(job_fd)
    _harden(job["cpu"], devnull)
    verdicts = Channel(write_fd=verdict_fd)
    proxy = Proxy(request_fd, response_fd)
    signal.signal(signal.SIGALRM, _alarm)
    load_error = proxy.load(job["timeout"] + GRACE_S)
    verdicts.send({"load_error": load_error})
    if load_error is not None:
        return
    namespace = {"__name__": "__main__"}
    with contextlib.suppress(BaseException):
        exec(compile(job["preamble"], "<task>", "exec"), namespace)
    for name in job["entry_points"]:
        namespace[name] = proxy.function(name)
    timeouts = 0
    for test in job["tests"]:
        if timeouts >= job["max_timeouts"]:  # a candidate that keeps hanging is not waited on
            verdicts.send(["timeout", f"not run: the code already timed out on {timeouts} tests"])
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
        except CandidateGone as exc:
            signal.setitimer(signal.ITIMER_REAL, 0)
            outcome = ["error", str(exc)]
        except AssertionError as exc:
            signal.setitimer(signal.ITIMER_REAL, 0)
            outcome = ["failed", _describe(exc) if str(exc) else "AssertionError"]
        except BaseException as exc:
            signal.setitimer(signal.ITIMER_REAL, 0)
            outcome = ["error", _describe(exc)]
        if proxy.broken and outcome[0] != "timeout":  # whatever the test caught, it ran without C
            outcome = ["error", proxy.broken]
        verdicts.send(outcome)
        if proxy.broken:  # C is dead or stuck: the tests after this one need a fresh C
            verdicts.send({"restart": True})
            return
