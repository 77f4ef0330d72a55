"""A study whose coder answers carry a sandbox escape, or poison what later jobs inherit:
the answers score as failures, and the trials after them are judged correctly. The
hostile trial runs first, and every answer is a new text, so each payload reaches the
sandbox (none is answered from its results cache)."""

from __future__ import annotations

import itertools
import textwrap
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest

import accord.runners.runtime as runtime
from accord.runners.llm import LLMRequest
from accord.runners.testing import ScriptedBackend, fenced
from accord.search.cli import main
from accord.search.studyfile import load_study
from tests.helpers import BAD_CODE, GOOD_CODE, GOOD_TESTS, entry_of

# Rewrites every "failed" it can reach in any process's memory into "passed" (in an
# earlier sandbox this turned the worker's verdicts into passes for good). A module-level
# try block, so that code extraction keeps it: it runs when the code loads.
PAYLOAD = textwrap.dedent(
    """
    try:
        import os, re
        for _pid in [p for p in os.listdir('/proc') if p.isdigit()]:
            try:
                _maps = open(f'/proc/{_pid}/maps').read()
                _mem = open(f'/proc/{_pid}/mem', 'r+b')
            except OSError:
                continue
            for _line in _maps.splitlines():
                _start, _end = (int(x, 16) for x in _line.split()[0].split('-'))
                try:
                    _mem.seek(_start)
                    _data = _mem.read(_end - _start)
                    for _m in re.finditer(b'failed', _data):
                        _mem.seek(_start + _m.start())
                        _mem.write(b'passed')
                except (OSError, ValueError, OverflowError):
                    continue
    except Exception:
        pass
    """
)


# Sets a hard CPU limit of 8 s on every process it can reach but PID 1: the zygotes pass
# it to every later job, whose own CPU limit it then cannot set (on an earlier sandbox,
# every later job on that worker was an error, and the worker was never replaced).
POISON = textwrap.dedent(
    """
    try:
        import os, resource
        for _pid in range(2, 64):
            try:
                resource.prlimit(_pid, resource.RLIMIT_CPU, (8, 8))
            except (OSError, ValueError):
                pass
    except Exception:
        pass
    """
)


@pytest.mark.parametrize("payload", [PAYLOAD, POISON], ids=["memory", "inherited attributes"])
def test_escape_payloads_score_as_failures_and_later_trials_are_unaffected(
    study_file: Callable[..., Path], monkeypatch: pytest.MonkeyPatch, payload: str
) -> None:
    unique = itertools.count()

    def coder(request: LLMRequest) -> str:
        entry = entry_of(request)
        mark = f"\n# answer {next(unique)}\n"  # a new text: the sandbox runs it
        if request.model == "bad":  # wrong code, carrying the payload
            return fenced(payload + "\n" + BAD_CODE[entry] + mark)
        if request.model == "half":  # right for add, wrong for rev: a forged pass would show
            return fenced((GOOD_CODE if entry == "add" else BAD_CODE)[entry] + mark)
        return fenced(GOOD_CODE[entry] + mark)

    script = {"coder": coder, "tester": lambda r: fenced(GOOD_TESTS[entry_of(r)])}
    backend = ScriptedBackend(lambda r: script[r.role](r))
    monkeypatch.setattr(runtime, "LiteLLMBackend", lambda *a, **k: backend)
    path = study_file(
        space='coder.model = ["bad", "good", "half"]\n',
        extra='[models.half]\nmodel = "fake/half"\ninput_cost_per_token = 1e-6\noutput_cost_per_token = 2e-6\n',
    )
    path.write_text(
        path.read_text().replace('sampler = "random"', 'sampler = "random"\npresets = []')
        + "\n[execution]\nsandbox_workers = 1\n"  # one worker: every job after the payload's uses it
    )
    definition = load_study(path)
    Path(definition.storage.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    study = optuna.create_study(
        study_name=definition.name, storage=definition.storage, directions=["maximize", "minimize"]
    )
    study.enqueue_trial({"coder.model": "bad"})  # the hostile trial first
    assert main(["run", str(path), "--n-trials", "9"]) == 0
    trials = optuna.load_study(study_name=definition.name, storage=definition.storage).trials
    models = [t.params["coder.model"] for t in trials]
    assert models[0] == "bad" and {"good", "half"} <= set(models[1:])
    expected = {"bad": 0.0, "good": 1.0, "half": 0.5}
    for trial in trials:
        assert trial.values[0] == expected[trial.params["coder.model"]], (trial.number, trial.params)
        assert trial.user_attrs["alignment_rate"] == expected[trial.params["coder.model"]]
