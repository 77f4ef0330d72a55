"""The CLI end to end on the scripted backend: run, resume, interrupt, show, best, errors."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest

from accord.runners.llm import LLMRequest
from accord.runners.testing import ScriptedBackend
from accord.search.cli import main
from accord.search.studyfile import load_study
from tests.helpers import measured, solving_script


def study_of(path: Path) -> optuna.Study:
    definition = load_study(path)
    return optuna.load_study(study_name=definition.name, storage=definition.storage)


def test_run_scores_trials_with_attributes_and_artifacts(
    study_file: Callable[..., Path], fake_backend: ScriptedBackend, capsys: pytest.CaptureFixture[str]
) -> None:
    path = study_file()
    assert main(["run", str(path), "--n-trials", "4"]) == 0
    out = capsys.readouterr().out
    assert "Pareto front of study s" in out and "cheapest configuration" in out
    study = study_of(path)
    assert study.metric_names == ["pass_rate", "cost"]
    trials = measured(study.get_trials(states=[optuna.trial.TrialState.COMPLETE]))
    assert len(trials) == 4  # run, besides any proposal of a configuration already run
    for trial in trials:
        pass_rate, cost = trial.values
        good = trial.params["coder.model"] == "good" or trial.params["loop.max_rounds"] > 0
        assert pass_rate == (1.0 if good else 0.0)
        assert cost > 0
        attrs = trial.user_attrs
        assert attrs["calls"] >= 4 and attrs["tokens"] > 0 and attrs["tasks_done"] == 2
        assert attrs["alignment_rate"] == pass_rate
        # nothing aligned: false alignment is undefined, not zero
        assert attrs["false_alignment_rate"] == (0.0 if pass_rate else None)
        assert attrs["tester_accuracy"] is None  # a user task file holds no reference solution
        assert attrs["sandbox"] == "bwrap"
        assert all(not isinstance(v, list | dict) and len(str(v)) < 1024 for v in attrs.values())
    artifact_dir = load_study(path).artifact_dir
    files = list(artifact_dir.iterdir())
    assert len(files) == 2 * 4  # transcript and selected code per trial
    transcripts = [f.read_text() for f in files if f.read_text().startswith("{")]
    events = [json.loads(line) for text in transcripts for line in text.splitlines()]
    assert {e["kind"] for e in events} == {"call", "execute", "select"}
    assert {e["stage"] for e in events if e["kind"] == "call"} >= {"code", "tests"}


def test_rerun_adds_trials_and_presets_are_enqueued_once(
    study_file: Callable[..., Path], fake_backend: ScriptedBackend
) -> None:
    path = study_file(
        space='coder.model = ["good", "bad"]\nloop.max_rounds = [0, 2]\npopulation.size = [1, 2, 3]\n'
    )
    path.write_text(
        path.read_text().replace("[study]\n", '[study]\npresets = ["single-shot", "self-debug"]\n', 1)
    )
    assert main(["run", str(path), "--n-trials", "5"]) == 0
    first = measured(study_of(path).trials)
    # each preset once per coder model, before anything the sampler picks
    presets = [(t.user_attrs.get("preset"), t.user_attrs.get("preset_model")) for t in first[:4]]
    assert presets == [
        ("single-shot", "good"),
        ("single-shot", "bad"),
        ("self-debug", "good"),
        ("self-debug", "bad"),
    ]
    assert [t.params["coder.model"] for t in first[:4]] == ["good", "bad", "good", "bad"]
    assert first[2].params["loop.max_rounds"] == 2 and "preset" not in first[4].user_attrs
    calls_after_first = len(fake_backend.calls)
    assert main(["run", str(path), "--n-trials", "2"]) == 0
    everything = study_of(path).trials
    second = measured(everything)
    assert len(second) == 7 and [t.number for t in everything] == list(range(len(everything)))
    for before, after in zip(first, second[:5], strict=True):
        assert (before.values, before.params) == (after.values, after.params)
    assert [t.user_attrs.get("preset") for t in second].count("single-shot") == 2
    # The response cache answers what earlier trials already asked.
    assert len(fake_backend.calls) - calls_after_first < calls_after_first


def test_ctrl_c_keeps_finished_trials_and_fails_the_running_one(
    study_file: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    solve = solving_script()
    state = {"calls": 0}

    def interrupt_on_call_nine(request: LLMRequest) -> str:
        state["calls"] += 1
        if state["calls"] == 9:
            raise KeyboardInterrupt
        return solve(request)

    backend = ScriptedBackend(interrupt_on_call_nine)
    import accord.runners.runtime as runtime

    monkeypatch.setattr(runtime, "LiteLLMBackend", lambda *a, **k: backend)
    path = study_file(space='coder.model = ["good"]\ntester.temperature = {low = 0.0, high = 1.0}\n')
    assert main(["run", str(path), "--n-trials", "5"]) == 130
    states = [t.state for t in study_of(path).trials]
    assert optuna.trial.TrialState.RUNNING not in states
    assert states[-1] == optuna.trial.TrialState.FAIL
    assert states.count(optuna.trial.TrialState.COMPLETE) >= 1
    assert main(["run", str(path), "--n-trials", "1"]) == 0
    assert len(measured(study_of(path).trials)) == len(states) + 1


def test_show_json_and_best_export(
    study_file: Callable[..., Path],
    fake_backend: ScriptedBackend,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = study_file()
    assert main(["run", str(path), "--n-trials", "4"]) == 0
    capsys.readouterr()
    assert main(["show", str(path), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["study"] == "s" and len([r for r in shown["trials"] if r["state"] != "REPEAT"]) == 4
    assert any(row["pareto"] for row in shown["trials"])
    out = tmp_path / "best.toml"
    assert main(["best", str(path), "--min-pass-rate", "1.0", "--export", str(out)]) == 0
    exported = tomllib.loads(out.read_text())
    trial = study_of(path).trials[exported["accord"]["trial"]]
    assert exported["params"] == trial.params
    assert trial.values[0] >= 1.0
    front = [row for row in shown["trials"] if row["pareto"] and row["pass_rate"] >= 1.0]
    assert trial.values[1] == min(row["cost"] for row in front)
    assert main(["best", str(path), "--min-pass-rate", "1.5"]) == 1

    # solve: the exported configuration applied to new tasks
    capsys.readouterr()
    results = tmp_path / "solved.jsonl"
    tasks = tmp_path / "tasks.jsonl"
    assert main(["solve", "--config", str(out), "--tasks", str(tasks), "--out", str(results)]) == 0
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    assert [r["task_id"] for r in rows] == ["t/add", "t/rev"]
    assert all(r["aligned"] and r["hidden_passed"] for r in rows)
    assert "return a + b" in rows[0]["code"] and "assert add(2, 3) == 5" in rows[0]["tests"]
    assert (
        "2 of 2 tasks aligned; 2 passed their hidden tests, 1.000 [0.34-1.00] n=2" in capsys.readouterr().err
    )
    stub = 'def rev(s: str) -> str:\n    """Return s reversed."""\n'
    assert main(["solve", "--config", str(out), "--prompt", stub]) == 0
    [row] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert row["task_id"] == "prompt" and row["aligned"] and row["hidden_passed"] is None
    assert main(["solve", "--config", str(out), "--tasks", str(tmp_path / "missing.jsonl")]) == 1


def accord_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "accord.search.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_misspelled_key_exits_nonzero_with_one_line(study_file: Callable[..., Path]) -> None:
    path = study_file()
    path.write_text(path.read_text().replace("n_trials = 3", "n_trails = 3"))
    result = accord_cli("run", str(path))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [f"accord: error: {path}: budget.n_trails: unknown key"]
    assert "Traceback" not in result.stderr


def test_errors_are_one_line_and_nothing_is_created(tmp_path: Path, study_file: Callable[..., Path]) -> None:
    missing = accord_cli("run", str(tmp_path / "nope.toml"))
    assert missing.returncode == 1 and "study file not found" in missing.stderr
    path = study_file()
    no_study = accord_cli("show", str(path))
    assert no_study.returncode == 1 and "has no trials yet" in no_study.stderr
    assert len(no_study.stderr.strip().splitlines()) == 1
    bad_tasks = study_file(name="t")
    bad_tasks.write_text(bad_tasks.read_text().replace("tasks.jsonl", "missing.jsonl"))
    result = accord_cli("run", str(bad_tasks))
    assert result.returncode == 1 and "task file" in result.stderr and "not found" in result.stderr
    assert not (tmp_path / "runs" / "t.db").exists()


def test_exec_prints_per_test_verdicts(tmp_path: Path) -> None:
    code = tmp_path / "code.py"
    code.write_text("def f(x):\n    return x * 2\n")
    tests = tmp_path / "tests.py"
    tests.write_text("assert f(2) == 4\nassert f(3) == 7\n\nassert g(1)\nimport os\n")
    result = accord_cli("exec", str(code), str(tests), "--json")
    assert result.returncode == 1
    rows = json.loads(result.stdout)
    assert [(r["test"], r["status"]) for r in rows] == [
        ("assert f(2) == 4", "passed"),
        ("assert f(3) == 7", "failed"),
        ("assert g(1)", "error"),
    ]
    assert "NameError" in rows[2]["error"]
    text = accord_cli("exec", str(code), str(tests))
    assert "1 passed, 2 failed" in text.stdout
    tests.write_text("assert f(2) == 4\n")
    assert accord_cli("exec", str(code), str(tests)).returncode == 0
    tests.write_text("print('no asserts')\n")
    empty = accord_cli("exec", str(code), str(tests))
    assert empty.returncode == 1 and "no assert statements" in empty.stderr


def test_study_cost_cap_stops_the_study_and_later_runs(
    study_file: Callable[..., Path], fake_backend: ScriptedBackend, capsys: pytest.CaptureFixture[str]
) -> None:
    path = study_file(
        "[objectives]\ncost = 'tokens'\n",
        space='coder.model = ["good"]\ntester.temperature = {low = 0.0, high = 1.0}\n',
    )
    assert main(["run", str(path), "--n-trials", "1"]) == 0
    one_trial = study_of(path).trials[0].user_attrs["budget_spend"]  # measurement included
    path.write_text(
        path.read_text().replace("n_trials = 3", f"n_trials = 3\nmax_total_cost = {2.5 * one_trial}")
    )
    assert main(["run", str(path), "--n-trials", "6"]) == 0
    trials = study_of(path).trials
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    spent = sum(t.user_attrs["budget_spend"] for t in trials)
    assert len(trials) < 7  # stopped before the six trials asked for
    stopped = [t for t in complete if t.user_attrs["stopped"]]
    assert len(stopped) == 1 and stopped[0].user_attrs["stopped"].startswith("budget")
    assert stopped[0].constraints["budget"] > 0  # a partial run is infeasible: never on the front
    assert stopped[0].number not in {t.number for t in study_of(path).best_trials}
    assert spent < 2.5 * one_trial + one_trial  # at most the calls of the last trial over
    capsys.readouterr()
    assert main(["run", str(path), "--n-trials", "2"]) == 0
    assert "has spent its budget" in capsys.readouterr().err
    assert len(study_of(path).trials) == len(trials)


def test_report_writes_html_and_real_png_plots(
    study_file: Callable[..., Path], fake_backend: ScriptedBackend, tmp_path: Path
) -> None:
    import struct

    path = study_file()
    text = path.read_text().replace('sampler = "random"', 'sampler = "random"\npresets = ["single-shot"]')
    path.write_text(text)
    assert main(["run", str(path), "--n-trials", "6"]) == 0
    out = tmp_path / "report"
    assert main(["report", str(path), "--out", str(out)]) == 0
    page = (out / "report.html").read_text()
    assert "single-shot" in page and page.count("<img") == 3 and "<th>paired test</th>" in page
    assert page.count("<td>preset</td>") == 2  # the preset, once per coder model
    assert "n=2" in page  # pass rates carry their n (two tasks) and interval
    for name in ("pareto.png", "cost_vs_pass.png", "importances.png"):
        data = (out / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000, name
        width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk
        assert width >= 600 and height >= 400
    assert main(["report", str(tmp_path / "nope.toml")]) == 1


def test_a_missing_api_key_stops_the_run_before_any_trial(
    study_file: Callable[..., Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ACCORD_TEST_KEY", raising=False)
    path = study_file('[models.hosted]\nmodel = "openai/gpt-4o-mini"\napi_key_env = "ACCORD_TEST_KEY"\n',
                      space='coder.model = ["good", "hosted"]\n')  # fmt: skip
    assert main(["run", str(path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "models.hosted.api_key_env" in err[0] and "ACCORD_TEST_KEY is not set" in err[0]
    assert str(path) in err[0]
    definition = load_study(path)
    assert not definition.artifact_dir.exists()
    assert not Path(definition.storage.removeprefix("sqlite:///")).exists()  # no study, no trial


def test_a_usd_study_with_a_model_of_no_known_price_stops_before_any_trial(
    study_file: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    # litellm's map prices gpt-4o-mini; it knows no "nobody/unknown-model"
    known = study_file('[models.hosted]\nmodel = "openai/gpt-4o-mini"\n', space='coder.model = ["hosted"]\n')
    from accord.search.preflight import preflight, study_tasks

    definition = load_study(known)
    preflight(definition, study_tasks(definition))
    path = study_file(
        '[models.mystery]\nmodel = "openai/nobody-unknown-model"\n',
        space='coder.model = ["good", "mystery"]\n',
        name="priceless",
    )
    assert main(["run", str(path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "models.mystery.input_cost_per_token" in err[0] and "no known price" in err[0]
    assert not Path(load_study(path).storage.removeprefix("sqlite:///")).exists()


def test_run_confirm_best_show_search_and_held_out_with_intervals_and_a_paired_verdict(
    study_file: Callable[..., Path],
    fake_backend: ScriptedBackend,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    # eight tasks: the two toy tasks under four names each; half held out
    rows = [json.loads(line) for line in Path(load_study(study_file()).task_source).read_text().splitlines()]
    many = tmp_path / "many.jsonl"
    many.write_text(
        "".join(
            json.dumps({**row, "task_id": f"{row['task_id']}-{i}"}) + "\n" for i in range(4) for row in rows
        )
    )
    path = study_file(space='coder.model = ["good", "bad"]\nloop.max_rounds = [0, 1]\n', name="held")
    text = path.read_text().replace(str(load_study(path).task_source), str(many))
    text = text.replace("[tasks]\n", "[tasks]\nholdout = 0.5\n").replace(
        "[study]\n", '[study]\npresets = ["single-shot"]\n'
    )
    path.write_text(text)
    assert main(["run", str(path), "--n-trials", "5"]) == 0
    out = capsys.readouterr()
    assert "on 4 tasks (4 more held out)" in out.err
    assert "n=4" in out.out and "optimistic" in out.out  # search figures, flagged as such
    assert main(["confirm", str(path), "--top", "2", "--repeats", "2"]) == 0
    confirmed = capsys.readouterr().out
    assert "held-out" in confirmed
    assert main(["best", str(path)]) == 0
    best = capsys.readouterr().out
    assert "search tasks:" in best and "held-out tasks:" in best and "[" in best and "n=4" in best
    assert ("best preset: single-shot on" in best and "exact McNemar on the held-out tasks" in best) or (
        "the choice is a preset itself" in best
    )
    held = optuna.load_study(study_name="held.holdout", storage=load_study(path).storage)
    out = tmp_path / "chosen.toml"
    assert main(["best", str(path), "--export", str(out)]) == 0
    about = tomllib.loads(out.read_text())["accord"]
    confirmation = next(t for t in held.trials if t.user_attrs["search_trial"] == about["trial"])
    assert about["held_out_pass_rate"] == confirmation.values[0]
    assert held.trials and all(
        t.user_attrs["tasks"] == 4 and t.user_attrs["repeats"] == 2 for t in held.trials
    )
    # confirming again resumes: nothing new to run
    before = len(held.trials)
    assert main(["confirm", str(path), "--top", "2", "--repeats", "2"]) == 0
    assert (
        len(optuna.load_study(study_name="held.holdout", storage=load_study(path).storage).trials) == before
    )


def test_best_prints_what_the_search_and_confirming_paid_and_the_break_even(
    study_file: Callable[..., Path], fake_backend: ScriptedBackend, capsys: pytest.CaptureFixture[str]
) -> None:
    # cot-sc at population 3 on the good model is the dear preset; single-shot on the good
    # model reaches the same rate for a third of the code calls
    space = 'coder.model = ["good"]\npopulation.size = [1, 3]\nselection.rule = ["majority"]\ntechnique = ["direct", "cot"]\n'
    path = study_file(space=space, name="bill")
    path.write_text(path.read_text().replace("[study]\n", '[study]\npresets = ["cot-sc"]\n'))
    assert main(["run", str(path), "--n-trials", "4"]) == 0
    capsys.readouterr()
    assert main(["best", str(path)]) == 0
    best = capsys.readouterr().out
    definition = load_study(path)
    study = optuna.load_study(study_name="bill", storage=definition.storage)
    paid = sum(t.user_attrs.get("paid", t.user_attrs.get("budget_spend", 0.0)) for t in study.trials)
    objective = sum(t.user_attrs.get("budget_spend", 0.0) for t in study.trials)
    # a repeat of calls already made is not paid again (the cache answers them)
    assert 0 < paid < objective
    assert f"the search paid {paid:.4g} usd" in best and f"sum to {objective:.4g}" in best
    assert "confirming paid 0" in best
    done = [t for t in study.trials if t.values and not t.user_attrs.get("stopped")]
    preset = next(t for t in done if t.user_attrs.get("preset") == "cot-sc")
    chosen = min((t for t in done if t.values[0] >= preset.values[0]), key=lambda t: (t.values[1], t.number))
    saving = (preset.values[1] - chosen.values[1]) / 2  # two search tasks
    assert saving > 0
    assert f"saves {saving:.4g} usd a task: it repays the search after {paid / saving:,.0f} tasks" in best
