from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from accord.runners.llm import Gateway, LLMRequest, Meter, ModelSpec
from accord.runners.loop.members import LoopContext
from accord.runners.loop.population import run_population
from accord.runners.sandbox import Sandbox
from accord.runners.tasks.load import load_tasks
from accord.runners.testing import ScriptedBackend
from accord.space import PromptLibrary, RoleConfig, RunConfig
from tests.helpers import solving_script


class InFlight:
    """A script that sleeps and records how many calls were in flight at once."""

    def __init__(self, delay_s: float = 0.05) -> None:
        self.delay_s = delay_s
        self.now = 0
        self.peak = 0
        self.lock = threading.Lock()
        self.solve = solving_script()

    def __call__(self, request: LLMRequest) -> str:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        time.sleep(self.delay_s)
        with self.lock:
            self.now -= 1
        return self.solve(request)


def request(sample: int) -> LLMRequest:
    return LLMRequest(
        model="m", messages=({"role": "user", "content": "def add"},), sample=sample, role="coder"
    )


def test_calls_in_flight_are_bounded_per_model() -> None:
    for model, bound, expected in (("fake/m", 3, 3), ("local/m", None, 1), ("fake/m", None, 8)):
        script = InFlight()
        gw = Gateway({"m": ModelSpec(alias="m", model=model, max_concurrent=bound)}, ScriptedBackend(script))
        with ThreadPoolExecutor(max_workers=12) as pool:
            list(pool.map(lambda i, gw=gw: gw.complete(request(i)), range(24)))
        assert script.peak == expected, model


def test_rpm_spaces_call_starts() -> None:
    """Five calls at once at 600 rpm: the limiter holds back the second to fifth by 0.1,
    0.2, 0.3 and 0.4 s, on the gateway's own clock (a fixed one here: no wall time)."""
    waits: list[float] = []
    lock = threading.Lock()

    def sleep(seconds: float) -> None:
        with lock:
            waits.append(seconds)

    spec = ModelSpec(alias="m", model="fake/m", rpm=600)
    gw = Gateway({"m": spec}, ScriptedBackend(InFlight(0.0)), clock=lambda: 100.0, sleep=sleep)
    with ThreadPoolExecutor(max_workers=5) as pool:
        list(pool.map(lambda i: gw.complete(request(i)), range(5)))
    assert sorted(waits) == pytest.approx([0.1, 0.2, 0.3, 0.4])


def test_population_members_run_side_by_side(task_file: Path) -> None:
    script = InFlight(0.1)
    spec = ModelSpec(alias="good", model="fake/good", max_concurrent=4)
    config = RunConfig(
        coder=RoleConfig(model="good", prompt="direct", temperature=0.5),
        tester=RoleConfig(model="good", prompt="basic", temperature=0.5),
        population=6,
        max_rounds=0,
        selection="majority",
    )
    meter = Meter()
    with Sandbox() as sandbox:
        ctx = LoopContext(
            gateway=Gateway({"good": spec}, ScriptedBackend(script)),
            executor=sandbox,
            prompts=PromptLibrary.load(),
            meter=meter,
        )
        outcome = run_population(load_tasks(str(task_file))[0], config, ctx)
    assert outcome.aligned and outcome.hidden_passed
    assert script.peak == 4
    assert meter.calls == 12  # the thread-safe meter counted every call
