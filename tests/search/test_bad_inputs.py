"""Every bad input gets one line: broken study files, task files, exported configurations
and `accord exec` arguments each give a single line on stderr naming the file (or the
argument), a non-zero exit, no traceback, and nothing left behind."""

from __future__ import annotations

import gzip
import json
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from accord.runners.testing import ScriptedBackend
from accord.search.cli import main
from tests.helpers import TASKS

BASE = """
[study]
name = "bad"
seed = 1
sampler = "random"

[tasks]
source = "TASKS"

[budget]
n_trials = 1

[models.good]
model = "fake/good"
input_cost_per_token = 1e-6
output_cost_per_token = 2e-6

[loop]
max_tokens = 100

[space]
coder.model = ["good"]
"""

# (case, how the valid study file changes: (old, new) replacements or whole text, what the line says)
STUDY_CASES: list[tuple[str, object, str]] = [
    ("binary garbage", b"\x00\x01\x02\xff\xfe" * 50, "not UTF-8"),
    ("latin-1 text", "name = 'caf\xe9'".encode("latin-1"), "not UTF-8"),
    ("not TOML", "[study\nname = ", "not valid TOML"),
    ("empty", "", "tasks.source: required"),
    ("unknown table", [("[budget]", "[budgett]\nx = 1\n[budget]")], "budgett: unknown key"),
    (
        "unknown study key",
        [('sampler = "random"', 'sampler = "random"\nsamplr = 1')],
        "study.samplr: unknown key",
    ),
    ("name escapes the runs folder", [('name = "bad"', 'name = "../../../../tmp/x"')], "study.name"),
    ("name with a slash", [('name = "bad"', 'name = "a/b"')], "study.name"),
    ("empty name", [('name = "bad"', 'name = ""')], "study.name"),
    ("unknown sampler", [('sampler = "random"', 'sampler = "magic"')], "study.sampler"),
    ("negative seed", [("seed = 1", "seed = -1")], "study.seed"),
    ("huge seed", [("seed = 1", "seed = 1099511627776")], "study.seed"),
    ("seed as text", [("seed = 1", 'seed = "seven"')], "study.seed"),
    ("unknown preset", [("seed = 1", 'seed = 1\npresets = ["magic"]')], "study.presets"),
    (
        "preset model not in the space",
        [("seed = 1", 'seed = 1\npresets = ["single-shot"]\npreset_models = ["nope"]')],
        "study.preset_models",
    ),
    ("unsupported storage", [("seed = 1", 'seed = 1\nstorage = "mysql://x"')], "study.storage"),
    (
        "storage in an unwritable place",
        [("seed = 1", 'seed = 1\nstorage = "sqlite:////proc/accord/x.db"')],
        "study.storage",
    ),
    ("no task source", [('source = "TASKS"', "")], "tasks.source: required"),
    ("empty slice", [('source = "TASKS"', 'source = "humaneval[5:1]"')], "tasks.source"),
    ("missing task file", [('source = "TASKS"', 'source = "nowhere.jsonl"')], "tasks.source"),
    ("unknown task set", [('source = "TASKS"', 'source = "leetcode"')], "tasks.source"),
    ("holdout over 1", [('source = "TASKS"', 'source = "TASKS"\nholdout = 1.5')], "tasks.holdout"),
    (
        "holdout leaves nothing to search",
        [('source = "TASKS"', 'source = "TASKS"\nholdout = 0.9')],
        "tasks.holdout",
    ),
    (
        "holdout twice",
        [('source = "TASKS"', 'source = "TASKS"\nholdout = 0.5\nholdout_source = "humaneval[:2]"')],
        "tasks.holdout_source",
    ),
    (
        "infinite hidden time-out",
        [('source = "TASKS"', 'source = "TASKS"\nhidden_timeout_s = inf')],
        "tasks.hidden_timeout_s",
    ),
    (
        "negative hidden time-out",
        [('source = "TASKS"', 'source = "TASKS"\nhidden_timeout_s = -1')],
        "tasks.hidden_timeout_s",
    ),
    ("unknown task id", [('source = "TASKS"', 'source = "TASKS"\nids = ["t/nope"]')], "tasks.source"),
    (
        "unknown pass source",
        [("[budget]", '[objectives]\npass_rate = "maybe"\n[budget]')],
        "objectives.pass_rate",
    ),
    ("unknown cost unit", [("[budget]", '[objectives]\ncost = "euros"\n[budget]')], "objectives.cost"),
    ("trials as a float", [("n_trials = 1", "n_trials = 1e23")], "budget.n_trials"),
    ("racing as text", [("n_trials = 1", 'n_trials = 1\nracing = "yes"')], "budget.racing"),
    (
        "a rung of all tasks",
        [("n_trials = 1", "n_trials = 1\nracing = true\nrungs = [0.1, 1.0]")],
        "budget.rungs",
    ),
    ("rungs as a number", [("n_trials = 1", "n_trials = 1\nrungs = 0.5")], "budget.rungs"),
    (
        "racing confidence 1",
        [("n_trials = 1", "n_trials = 1\nracing_confidence = 1.0")],
        "budget.racing_confidence",
    ),
    (
        "no tasks in flight",
        [("[budget]", "[execution]\ntasks_in_flight = 0\n[budget]")],
        "execution.tasks_in_flight",
    ),
    (
        "100 sandboxes",
        [("[budget]", "[execution]\nsandbox_workers = 100\n[budget]")],
        "execution.sandbox_workers",
    ),
    (
        "unknown execution key",
        [("[budget]", "[execution]\nthreads = 4\n[budget]")],
        "execution.threads: unknown key",
    ),
    ("no trials", [("n_trials = 1", "n_trials = 0")], "budget.n_trials"),
    ("a billion trials", [("n_trials = 1", "n_trials = 1000000000")], "budget.n_trials"),
    (
        "negative trial cap",
        [("n_trials = 1", "n_trials = 1\nmax_cost_per_trial = -1")],
        "budget.max_cost_per_trial",
    ),
    ("NaN time-out", [("n_trials = 1", "n_trials = 1\ntimeout_s = nan")], "budget.timeout_s"),
    ("no models", [("[models.good]", "[models_]"), ('model = "fake/good"', "")], "models"),
    ("model without a name", [('model = "fake/good"', "")], "models.good.model"),
    ("unknown local model", [('model = "fake/good"', 'model = "local/gpt-9"')], "models.good.model"),
    ("reserved alias", [("[models.good]", "[models.coder]"), ('["good"]', '["coder"]')], "models.coder"),
    (
        "unknown model key",
        [('model = "fake/good"', 'model = "fake/good"\ncolour = "blue"')],
        "models.good.colour",
    ),
    (
        "negative price",
        [("input_cost_per_token = 1e-6", "input_cost_per_token = -1")],
        "models.good.input_cost_per_token",
    ),
    (
        "price as text",
        [("input_cost_per_token = 1e-6", 'input_cost_per_token = "cheap"')],
        "models.good.input_cost_per_token",
    ),
    (
        "negative retries",
        [('model = "fake/good"', 'model = "fake/good"\nmax_retries = -1')],
        "models.good.max_retries",
    ),
    (
        "a thousand retries",
        [('model = "fake/good"', 'model = "fake/good"\nmax_retries = 1000')],
        "models.good.max_retries",
    ),
    (
        "infinite model time-out",
        [('model = "fake/good"', 'model = "fake/good"\ntimeout_s = inf')],
        "models.good.timeout_s",
    ),
    (
        "no concurrency",
        [('model = "fake/good"', 'model = "fake/good"\nmax_concurrent = 0')],
        "models.good.max_concurrent",
    ),
    ("replay model without a corpus", [('model = "fake/good"', 'model = "replay/nothing"')], "models.good"),
    (
        "path on a hosted model",
        [('model = "fake/good"', 'model = "fake/good"\npath = "x.jsonl"')],
        "models.good.path",
    ),
    ("huge max_tokens", [("max_tokens = 100", "max_tokens = 1e20")], "loop.max_tokens"),
    ("negative max_tokens", [("max_tokens = 100", "max_tokens = -5")], "loop.max_tokens"),
    (
        "infinite test time-out",
        [("max_tokens = 100", "max_tokens = 100\ntest_timeout_s = inf")],
        "loop.test_timeout_s",
    ),
    (
        "min over max asserts",
        [("max_tokens = 100", "max_tokens = 100\nmin_asserts = 6\nmax_asserts = 5")],
        "loop.max_asserts",
    ),
    ("missing prompt folder", [("[loop]", '[prompts]\ndirs = ["nowhere"]\n[loop]')], "prompts.dirs"),
    (
        "unknown dimension",
        [('coder.model = ["good"]', 'coder.model = ["good"]\ncoder.modle = ["good"]')],
        "space.coder.modle",
    ),
    (
        "unknown model in the space",
        [('coder.model = ["good"]', 'coder.model = ["ghost"]')],
        "space.coder.model",
    ),
    (
        "temperature 50",
        [('coder.model = ["good"]', 'coder.model = ["good"]\ncoder.temperature = 50')],
        "space.coder.temperature",
    ),
    (
        "unknown technique",
        [('coder.model = ["good"]', 'coder.model = ["good"]\ntechnique = "telepathy"')],
        "space.technique",
    ),
    (
        "empty population",
        [('coder.model = ["good"]', 'coder.model = ["good"]\npopulation.size = [0]')],
        "space.population.size",
    ),
    (
        "inverted range",
        [('coder.model = ["good"]', 'coder.model = ["good"]\ncoder.temperature = {low = 1.0, high = 0.5}')],
        "space.coder.temperature",
    ),
    ("cache as text", [("[loop]", '[cache]\nenabled = "yes"\n[loop]')], "cache.enabled"),
    (
        "unset API key",
        [('model = "fake/good"', 'model = "fake/good"\napi_key_env = "ACCORD_NEVER_SET"')],
        "models.good.api_key_env",
    ),
]


@pytest.fixture
def write(tmp_path: Path, task_file: Path) -> Callable[[object], Path]:
    def write_study(change: object) -> Path:
        path = tmp_path / "bad.toml"
        if isinstance(change, bytes):
            path.write_bytes(change)
        elif isinstance(change, str):
            path.write_text(change)
        else:
            text = BASE
            for old, new in change:  # type: ignore[attr-defined]
                assert old in text, old
                text = text.replace(old, new)
            path.write_text(text.replace("TASKS", str(task_file)))
        return path

    return write_study


def one_line(capsys: pytest.CaptureFixture[str], *names: str) -> str:
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err + captured.out
    for name in names:
        assert name in lines[0], lines[0]
    return lines[0]


def files(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*")}


@pytest.mark.parametrize(("case", "change", "says"), STUDY_CASES, ids=[c[0] for c in STUDY_CASES])
def test_a_broken_study_file_is_one_line(
    case: str, change: object, says: str, write: Callable[[object], Path], tmp_path: Path,
    capsys: pytest.CaptureFixture[str], fake_backend: ScriptedBackend, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.delenv("ACCORD_NEVER_SET", raising=False)
    monkeypatch.delenv("ACCORD_REPLAY_DIR", raising=False)
    path = write(change)
    before = files(tmp_path)
    assert main(["run", str(path)]) == 1
    one_line(capsys, str(path), says)
    assert files(tmp_path) == before  # nothing created: no database, no runs folder
    assert fake_backend.calls == []


def gz(text: str) -> bytes:
    return gzip.compress(text.encode())


GOOD_ROW = json.dumps(TASKS[0])
TASK_CASES: list[tuple[str, str, object, str]] = [
    ("non-UTF-8", "t.jsonl", "caf\xe9\n".encode("latin-1"), "not UTF-8"),
    ("binary", "t.jsonl", b"\x00\xff\x00\xfe" * 40, "not"),
    ("not gzip", "t.jsonl.gz", b"plain text, not gzip\n", "not a gzip file"),
    ("not JSON", "t.jsonl", "{task_id: 1}\n", "not valid JSON"),
    ("not an object", "t.jsonl", "[1, 2]\n", "expected a JSON object"),
    ("no task_id", "t.jsonl", json.dumps({"prompt": "def f(): pass"}) + "\n", "task_id"),
    ("empty prompt", "t.jsonl", json.dumps({"task_id": "a", "prompt": " "}) + "\n", "prompt"),
    ("unknown field", "t.jsonl", json.dumps({**TASKS[0], "answer": 1}) + "\n", "unknown field 'answer'"),
    ("duplicate id", "t.jsonl", GOOD_ROW + "\n" + GOOD_ROW + "\n", "appears twice"),
    (
        "entry point with a space",
        "t.jsonl",
        json.dumps({**TASKS[0], "entry_point": "two words"}) + "\n",
        "entry_point 'two words'",
    ),
    (
        "entry point a keyword",
        "t.jsonl",
        json.dumps({**TASKS[0], "entry_point": "class"}) + "\n",
        "entry_point 'class'",
    ),
    ("tests a number", "t.jsonl", json.dumps({**TASKS[0], "tests": 5}) + "\n", "'tests'"),
    ("tests an empty list", "t.jsonl", json.dumps({**TASKS[0], "tests": []}) + "\n", "'tests'"),
    (
        "tests not Python",
        "t.jsonl",
        json.dumps({**TASKS[0], "tests": ["assert add(1,"]}) + "\n",
        "not valid Python",
    ),
    ("empty file", "t.jsonl", "", "no tasks"),
    ("nested too deeply", "t.jsonl", "[" * 100000 + "]" * 100000 + "\n", "not valid JSON"),
    (
        "no function to find",
        "t.jsonl",
        json.dumps({"task_id": "a", "prompt": "Add two numbers."}) + "\n",
        "no entry_point",
    ),
    ("task id a number", "t.jsonl", json.dumps({**TASKS[0], "task_id": 7}) + "\n", "task_id"),
    ("tests not strings", "t.jsonl", json.dumps({**TASKS[0], "tests": [1, 2]}) + "\n", "'tests'"),
    ("a gzip of garbage", "t.jsonl.gz", gz("\x00garbage") + b"", "not valid JSON"),
]


@pytest.mark.parametrize(("case", "name", "content", "says"), TASK_CASES, ids=[c[0] for c in TASK_CASES])
@pytest.mark.parametrize("command", ["run", "solve"])
def test_a_broken_task_file_is_one_line(
    case: str, name: str, content: object, says: str, command: str, tmp_path: Path,
    write: Callable[[object], Path], capsys: pytest.CaptureFixture[str], fake_backend: ScriptedBackend,
) -> None:  # fmt: skip
    tasks = tmp_path / name
    tasks.write_bytes(content) if isinstance(content, bytes) else tasks.write_text(str(content))
    if command == "run":
        study = write([])
        study.write_text(study.read_text().replace(str(tmp_path / "tasks.jsonl"), str(tasks)))
        args = ["run", str(study)]
    else:
        args = ["solve", "--config", str(exported(tmp_path)), "--tasks", str(tasks)]
    before = files(tmp_path)
    assert main(args) == 1
    one_line(capsys, str(tasks), says)
    assert files(tmp_path) == before


def exported(
    tmp_path: Path,
    *,
    change: tuple[tuple[str, str], ...] | list[tuple[str, str]] = (),
    raw: bytes | None = None,
) -> Path:
    text = textwrap.dedent(
        """
        [accord]
        study = "s"
        trial = 0
        pass_rate = 1.0
        cost = 0.001
        cost_unit = "usd"
        config = "coder good"

        [params]
        "coder.model" = "good"
        "coder.prompt" = "direct"
        "coder.temperature" = 0.2
        "coder.top_p" = 1.0
        "tester.model" = "good"
        "tester.prompt" = "basic"
        "tester.temperature" = 0.2
        "tester.top_p" = 1.0
        technique = "direct"
        "population.size" = 1
        "loop.max_rounds" = 0
        "loop.self_explain" = false

        [settings]
        max_tokens = 100
        min_asserts = 3
        max_asserts = 5
        test_timeout_s = 3.0

        [models.good]
        model = "fake/good"
        input_cost_per_token = 1e-6
        output_cost_per_token = 2e-6
        """
    )
    for old, new in change:
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / "best.toml"
    path.write_bytes(raw) if raw is not None else path.write_text(text)
    return path


EXPORT_CASES: list[tuple[str, list[tuple[str, str]], bytes | None, str]] = [
    (
        "unknown model key",
        [('model = "fake/good"', 'model = "fake/good"\ncolour = 1')],
        None,
        "models.good.colour",
    ),
    ("model without a name", [('model = "fake/good"', "")], None, "models.good.model"),
    ("asserts as text", [("max_asserts = 5", 'max_asserts = "five"')], None, "settings.max_asserts"),
    ("no [accord] table", [("[accord]", "[about]")], None, "[accord]"),
    ("non-UTF-8", [], "x = 'caf\xe9'".encode("latin-1"), "not UTF-8"),
    (
        "negative retries",
        [('model = "fake/good"', 'model = "fake/good"\nmax_retries = -1')],
        None,
        "models.good.max_retries",
    ),
    (
        "infinite test time-out",
        [("test_timeout_s = 3.0", "test_timeout_s = inf")],
        None,
        "settings.test_timeout_s",
    ),
    ("negative max_tokens", [("max_tokens = 100", "max_tokens = -5")], None, "settings.max_tokens"),
    ("unknown technique", [('technique = "direct"', 'technique = "telepathy"')], None, "params.technique"),
    (
        "temperature 50",
        [('"coder.temperature" = 0.2', '"coder.temperature" = 50')],
        None,
        "params.coder.temperature",
    ),
    (
        "negative price",
        [("input_cost_per_token = 1e-6", "input_cost_per_token = -1")],
        None,
        "models.good.input_cost_per_token",
    ),
    ("no params", [("[params]", "[ignored]")], None, "params"),
    ("unknown param", [("technique =", '"coder.colour" = 1\ntechnique =')], None, "params.coder.colour"),
    ("undeclared model", [('"coder.model" = "good"', '"coder.model" = "ghost"')], None, "params.coder.model"),
    ("not TOML", [], b"[accord\n", "not valid TOML"),
    ("unknown settings key", [("max_tokens = 100", "max_tokens = 100\nspeed = 9")], None, "settings.speed"),
    ("min over max asserts", [("min_asserts = 3", "min_asserts = 9")], None, "settings.max_asserts"),
    ("empty file", [], b"", "[accord]"),
    ("missing parameter", [('technique = "direct"\n', "")], None, "params"),
    ("trial as text", [("trial = 0", 'trial = "zero"')], None, "accord.trial"),
]


@pytest.mark.parametrize(("case", "change", "raw", "says"), EXPORT_CASES, ids=[c[0] for c in EXPORT_CASES])
def test_a_tampered_export_is_one_line(
    case: str, change: list[tuple[str, str]], raw: bytes | None, says: str, tmp_path: Path, task_file: Path,
    capsys: pytest.CaptureFixture[str], fake_backend: ScriptedBackend,
) -> None:  # fmt: skip
    config = exported(tmp_path, change=change, raw=raw)
    before = files(tmp_path)
    assert main(["solve", "--config", str(config), "--tasks", str(task_file)]) == 1
    one_line(capsys, str(config), says)
    assert files(tmp_path) == before and fake_backend.calls == []


def test_the_valid_export_runs(tmp_path: Path, task_file: Path, fake_backend: ScriptedBackend) -> None:
    assert main(["solve", "--config", str(exported(tmp_path)), "--tasks", str(task_file)]) == 0


EXEC_CASES: list[tuple[str, list[str], str]] = [
    ("NaN time-out", ["--timeout", "nan"], "--timeout"),
    ("infinite time-out", ["--timeout", "inf"], "--timeout"),
    ("huge time-out", ["--timeout", "1e308"], "--timeout"),
    ("negative time-out", ["--timeout", "-1"], "--timeout"),
    ("zero time-out", ["--timeout", "0"], "--timeout"),
    ("time-out as text", ["--timeout", "soon"], "--timeout"),
]


@pytest.mark.parametrize(("case", "extra", "says"), EXEC_CASES, ids=[c[0] for c in EXEC_CASES])
def test_bad_exec_arguments_are_one_line(
    case: str, extra: list[str], says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, tests = tmp_path / "c.py", tmp_path / "t.py"
    code.write_text("def f():\n    return 1\n")
    tests.write_text("assert f() == 1\n")
    with pytest.raises(SystemExit) as exit_:
        main(["exec", str(code), str(tests), *extra])
    assert exit_.value.code == 2
    one_line(capsys, says)


@pytest.mark.parametrize("which", ["code", "tests"])
@pytest.mark.parametrize("content", ["caf\xe9".encode("latin-1"), None], ids=["non-UTF-8", "missing"])
def test_unreadable_exec_files_are_one_line(
    which: str, content: bytes | None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files_ = {"code": tmp_path / "c.py", "tests": tmp_path / "t.py"}
    files_["code"].write_text("def f():\n    return 1\n")
    files_["tests"].write_text("assert f() == 1\n")
    if content is None:
        files_[which].unlink()
    else:
        files_[which].write_bytes(content)
    assert main(["exec", str(files_["code"]), str(files_["tests"])]) == 1
    one_line(capsys, str(files_[which]))
