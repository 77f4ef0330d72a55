"""Fast studies change nothing but time and tokens: tasks and calls in flight give the
same results as one at a time, a configuration already measured is never run again, and
racing stops only trials that cannot reach the front."""

from __future__ import annotations

import json
import random
import re
import textwrap
import threading
import time
from pathlib import Path

import optuna
import pytest
from optuna.artifacts import FileSystemArtifactStore, get_all_artifact_meta

from accord.runners.llm import LLMRequest, Meter
from accord.runners.loop.population import TaskOutcome
from accord.runners.run import RunResult
from accord.runners.testing import ScriptedBackend, by_role, fenced, toy_tasks
from accord.search.cli import main
from accord.search.racing import hopeless
from accord.search.study import best_trials, make_storage
from accord.search.studyfile import Racing, load_study
from tests.helpers import measured


def k_of(request: LLMRequest) -> int:
    found = re.search(r"def add(\d+)\(", request.messages[-1]["content"])
    assert found, "a toy task's prompt names addK"
    return int(found.group(1))


class InFlight:
    """How many calls were in flight at once, at most."""

    def __init__(self) -> None:
        self.now = self.peak = 0
        self.lock = threading.Lock()

    def __enter__(self) -> None:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)

    def __exit__(self, *exc: object) -> None:
        with self.lock:
            self.now -= 1


IN_FLIGHT = InFlight()


def mixed(request: LLMRequest) -> str:
    """Right and wrong answers by task and sample, never by the order of the calls, each
    after a random pause so that calls in flight finish in a shuffled order."""
    with IN_FLIGHT:
        time.sleep(random.random() * 0.004)
    k, sample = k_of(request), request.sample
    if request.role == "tester":
        off = sample % 2  # odd samples expect one too many: they agree with wrong code
        return fenced(
            "\n".join(f"assert add{k}({a}, {b}) == {a + b + k + off}" for a, b in ((2, 3), (0, 0), (4, 1)))
        )
    right = (sample + k) % 3 == 0 if request.role == "coder" else (sample + k) % 2 == 0
    return fenced(f"def add{k}(a, b):\n    return a + b + {k if right else k + 1}")


def write_study(folder: Path, *, name: str, in_flight: int, space: str, n_trials: int = 6) -> Path:
    tasks = folder / "toy.jsonl"
    tasks.write_text("".join(json.dumps(t) + "\n" for t in toy_tasks(12)))
    path = folder / f"{name}.toml"
    path.write_text(
        textwrap.dedent(
            f"""
            [study]
            name = "{name}"
            seed = 7
            sampler = "random"
            [tasks]
            source = "{tasks}"
            [objectives]
            cost = "tokens"
            [budget]
            n_trials = {n_trials}
            [execution]
            tasks_in_flight = {in_flight}
            [models.m]
            model = "fake/m"
            max_concurrent = {in_flight}
            """
        )
        + "[space]\n"
        + textwrap.dedent(space)
    )
    return path


def outcome(path: Path) -> list[tuple[object, ...]]:
    """Each trial's params, figures and the code it selected for each task."""
    definition = load_study(path)
    storage = make_storage(definition.storage)
    study = optuna.load_study(study_name=definition.name, storage=storage)
    rows = []
    store = FileSystemArtifactStore(str(definition.artifact_dir))
    for trial in study.trials:
        selected = []
        for meta in get_all_artifact_meta(trial, storage=storage):
            if meta.filename.endswith("-selected.json"):
                with store.open_reader(meta.artifact_id) as reader:
                    selected.append(json.loads(reader.read()))
        rows.append(
            (
                trial.number,
                trial.state,
                trial.params,
                trial.values,
                trial.user_attrs.get("passed_tasks"),
                trial.user_attrs.get("tokens"),
                selected,
            )
        )
    return rows


SPACE = """
population.size = [1, 3, 5]
loop.max_rounds = [0, 1, 2]
selection.rule = ["majority", "dual_agreement", "first_aligned"]
"""


def test_results_do_not_depend_on_concurrency(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import accord.runners.runtime as runtime

    backend = ScriptedBackend(mixed)
    monkeypatch.setattr(runtime, "LiteLLMBackend", lambda *a, **k: backend)
    results = {}
    peaks = {}
    for in_flight in (1, 64):
        folder = tmp_path / str(in_flight)
        folder.mkdir()
        path = write_study(folder, name="c", in_flight=in_flight, space=SPACE)
        IN_FLIGHT.peak = 0
        assert main(["run", str(path), "--no-cache"]) == 0
        results[in_flight], peaks[in_flight] = outcome(path), IN_FLIGHT.peak
    assert peaks[1] == 1 and peaks[64] > 8
    one, many = results[1], results[64]
    assert len(one) >= 6 and one == many
    rates = {row[3][0] for row in one}  # the script makes trials differ: the test can fail
    assert len(rates) > 1 and any(row[6] for row in one)


def test_no_configuration_is_run_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import accord.runners.runtime as runtime

    backend = ScriptedBackend(by_role({"coder": mixed, "tester": mixed, "repairer": mixed}))
    monkeypatch.setattr(runtime, "LiteLLMBackend", lambda *a, **k: backend)
    space = 'population.size = [1, 3]\nselection.rule = ["majority", "first_aligned"]\n'
    path = write_study(tmp_path, name="d", in_flight=8, space=space, n_trials=10)  # 10 trials, 3 points
    assert main(["run", str(path), "--no-cache"]) == 0
    err = capsys.readouterr().err
    definition = load_study(path)
    study = optuna.load_study(study_name=definition.name, storage=definition.storage)
    ran = measured(study.trials)
    # population 1 has no selection rule to choose: 1 + 2 points in all
    assert len(ran) == 3 and len({json.dumps(t.params, sort_keys=True) for t in ran}) == 3
    repeats = [t for t in study.trials if t not in ran]
    assert repeats and all(t.user_attrs["budget_spend"] == 0 for t in repeats)
    for repeat in repeats:
        original = study.trials[repeat.user_attrs["repeat_of"]]
        assert repeat.params == original.params and repeat.values == original.values
    # the calls made are exactly those of the three configurations that ran
    assert len(backend.calls) == sum(t.user_attrs["calls"] for t in ran)
    assert "space looks exhausted" in err
    assert {t.number for t in best_trials(study)} <= {t.number for t in ran}  # a repeat never doubles a point


def front_trial(
    number: int, rate: float, cost: float, passed: list[bool] | None = None
) -> optuna.trial.FrozenTrial:
    attrs: dict[str, object] = {"n": number}
    if passed is not None:
        attrs["passed_tasks"] = "".join("1" if p else "0" for p in passed)
    return optuna.trial.create_trial(values=[rate, cost], params={}, distributions={}, user_attrs=attrs)


def partial(passed: list[bool], cost: float, costs: list[float] | None = None) -> RunResult:
    per_task = costs or [cost / len(passed)] * len(passed)
    outcomes = tuple(
        TaskOutcome(
            task_id=f"t{i}", code="", selected=0, aligned=p, hidden_passed=p, rounds=0, members=1, cost=c
        )
        for i, (p, c) in enumerate(zip(passed, per_task, strict=True))
    )
    return RunResult(
        outcomes=outcomes, n_tasks=len(passed), pass_rate=0.0, alignment_rate=0.0, false_alignment_rate=None,
        passed=tuple(passed), cost=cost, meter=Meter(), seconds=0.0,
    )  # fmt: skip


INTERVAL, INTERVAL_STRICT = Racing(test="interval"), Racing(test="interval", confidence=0.999)


def test_the_interval_rule_races_a_trial_only_when_a_front_trial_beats_its_best_case() -> None:
    front = [front_trial(0, 0.6, 100.0), front_trial(1, 0.9, 1000.0)]
    # 2 of 20 tasks passed: at best 0.3 (Wilson, 95%): trial 0 passes more for less
    bad = partial([True, True] + [False] * 18, cost=20.0)  # projected to 100 tasks: 100
    assert hopeless(front, bad, 100, INTERVAL).startswith("raced:")
    # ... but not if it is cheaper than every front trial: it could be a new cheapest point
    assert hopeless(front, partial([True, True] + [False] * 18, cost=19.0), 100, INTERVAL) == ""
    # 17 of 20 passed: its best case (0.95) beats every front trial
    assert hopeless(front, partial([True] * 17 + [False] * 3, cost=500.0), 100, INTERVAL) == ""
    # 14 of 20 passed (at best 0.86): trial 1 is better but dearer than its projected 250
    assert hopeless(front, partial([True] * 14 + [False] * 6, cost=50.0), 100, INTERVAL) == ""
    # ... and the same at a projected 5000 is beaten by trial 1
    assert hopeless(front, partial([True] * 14 + [False] * 6, cost=1000.0), 100, INTERVAL).startswith(
        "raced:"
    )
    # a stricter confidence keeps more trials running: a wider interval
    # (14 of 20 at 99.9%: at best 0.91)
    assert hopeless(front, partial([True] * 14 + [False] * 6, cost=1000.0), 100, INTERVAL_STRICT) == ""


def test_a_trial_losing_every_discordant_task_to_a_cheaper_front_trial_is_stopped_paired() -> None:
    # 17 tasks done of 170. The front trial passed all 17 (and, over all 170, 0.55); the
    # trial passed 9 of them: 8 discordant tasks, all lost (one-sided sign test p = 1/256)
    passed_front = [True] * 17 + [True] * 77 + [False] * 76
    front = [front_trial(0, sum(passed_front) / 170, 10.0, passed_front)]
    trial = partial([True] * 9 + [False] * 8, cost=2.0)  # projected: 20 for 170 tasks
    reason = hopeless(front, trial, 170, Racing(), rungs=2)
    assert reason.startswith("raced:") and "passed 8 that it failed and failed 0" in reason
    # the unpaired rule would let it run: 9 of 17 could still reach 0.74 (Wilson), above 0.55
    assert hopeless(front, trial, 170, INTERVAL) == ""
    # 6 of 6 lost is not enough at 95% after correcting for 4 rungs (1/64 > 0.05 / 4)
    six = partial([True] * 11 + [False] * 6, cost=2.0)
    assert hopeless(front, six, 170, Racing(), rungs=4) == ""
    assert hopeless(front, six, 170, Racing(), rungs=2).startswith("raced:")  # 1/64 < 0.05 / 2


def test_a_trial_behind_but_projected_much_cheaper_is_not_stopped() -> None:
    passed_front = [True] * 170
    front = [front_trial(0, 1.0, 10.0, passed_front)]
    cheap = partial([True] * 5 + [False] * 12, cost=0.1)  # far behind, at a hundredth of the cost
    assert hopeless(front, cheap, 170, Racing(), rungs=2) == ""
    # the same trial at the front trial's cost is stopped
    assert hopeless(front, partial([True] * 5 + [False] * 12, cost=2.0), 170, Racing(), rungs=2).startswith(
        "raced:"
    )
    # its cost per task is uncertain: one dear task among cheap ones keeps the low end low
    spread = [0.0] * 16 + [2.0]
    assert (
        hopeless(front, partial([True] * 5 + [False] * 12, cost=2.0, costs=spread), 170, Racing(), rungs=2)
        == ""
    )


def test_racing_stops_trials_that_cannot_reach_the_front_and_never_a_preset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import accord.runners.runtime as runtime

    def script(request: LLMRequest) -> str:
        k = k_of(request)
        if request.role == "tester":
            return fenced("\n".join(f"assert add{k}({a}, 1) == {a + 1 + k}" for a in range(3)))
        return fenced(f"def add{k}(a, b):\n    return a + b + {k if request.model == 'good' else 0}")

    backend = ScriptedBackend(script)
    monkeypatch.setattr(runtime, "LiteLLMBackend", lambda *a, **k: backend)
    space = 'coder.model = ["good", "bad"]\npopulation.size = [1, 3, 5]\nselection.rule = ["majority"]\n'
    path = write_study(tmp_path, name="r", in_flight=8, space=space, n_trials=8)
    text = path.read_text().replace("seed = 7", 'seed = 7\npresets = ["single-shot"]')
    text = text.replace(
        "n_trials = 8", 'n_trials = 8\nracing = true\nracing_test = "interval"\nrungs = [0.25, 0.5]'
    )
    text = text.replace(
        '[models.m]\nmodel = "fake/m"', '[models.good]\nmodel = "fake/good"\n[models.bad]\nmodel = "fake/bad"'
    )
    path.write_text(text)
    assert main(["run", str(path), "--no-cache"]) == 0
    out = capsys.readouterr().out
    definition = load_study(path)
    study = optuna.load_study(study_name=definition.name, storage=definition.storage)
    ran = measured(study.trials)
    presets = [t for t in ran if t.user_attrs.get("preset")]
    assert sorted(t.params["coder.model"] for t in presets) == ["bad", "good"]
    assert all(t.user_attrs["tasks_done"] == 12 for t in presets)  # in full, single-shot/bad too
    searched = [t for t in ran if not t.user_attrs.get("preset")]
    raced = [t for t in searched if str(t.user_attrs.get("stopped", "")).startswith("raced")]
    # the bad coder fails every task: after 3 of 12 its best case (0.56) is below single-shot/good's 1.0
    # and, with more members, it costs more; the good coder at population 3 or 5 ties at best, dearer
    assert raced and all(t.user_attrs["tasks_done"] == 3 for t in raced)
    for trial in raced:
        assert trial.constraints["budget"] > 0 and trial.number not in {t.number for t in best_trials(study)}
        assert trial.values[1] == pytest.approx(trial.user_attrs["spent_before_stop"] * 4)
    assert all(
        t in raced for t in searched if t.params["coder.model"] == "bad" or t.params["population.size"] > 1
    )
    assert "STOPPED" in out


def cascading(request: LLMRequest) -> str:
    """``mixed``, but the strong model "n" always writes right code."""
    if request.model == "n" and request.role == "coder":
        with IN_FLIGHT:
            time.sleep(random.random() * 0.004)
        k = k_of(request)
        return fenced(f"def add{k}(a, b):\n    return a + b + {k}")
    return mixed(request)


CASCADE_SPACE = """
coder.model = ["m>n"]
tester.model = "m"
population.size = [3, 5]
selection.rule = ["majority", "dual_agreement"]
population.adaptive = [false, true]
cascade.gate = ["share", "margin", "settled", "aligned"]
cascade.threshold = [0.5, 0.7, 0.9]
cascade.pool = [false, true]
cascade.last_population = [0, 2]
[models.n]
model = "fake/n"
max_concurrent = 64
"""


def test_a_cascades_results_do_not_depend_on_concurrency(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import accord.runners.runtime as runtime

    backend = ScriptedBackend(cascading)
    monkeypatch.setattr(runtime, "LiteLLMBackend", lambda *a, **k: backend)
    results = {}
    for in_flight in (1, 64):
        folder = tmp_path / str(in_flight)
        folder.mkdir()
        path = write_study(folder, name="c", in_flight=in_flight, space=CASCADE_SPACE, n_trials=8)
        assert main(["run", str(path), "--no-cache"]) == 0
        definition = load_study(path)
        study = optuna.load_study(study_name=definition.name, storage=definition.storage)
        stages = [
            {k: v for k, v in t.user_attrs.items() if k.startswith(("stage", "gate_", "cascade"))}
            for t in study.trials
        ]
        results[in_flight] = (outcome(path), stages)
    one, many = results[1], results[64]
    assert len(one[0]) >= 8 and one == many
    # the trials differ, and their tasks stopped at both stages: the test can fail
    assert len({row[3][0] for row in one[0]}) > 1
    assert any(0 < s.get("stage1_answered", 0) < 1 for s in one[1])
