from __future__ import annotations

import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from accord.runners.loop.members import harness
from accord.runners.sandbox import TIMEOUT, ExecResult, Sandbox
from accord.runners.tasks.load import Task, load_tasks
from accord.space import TaskError
from tests.helpers import SHARED_DATA

# CI always has ../shared beside the clone; elsewhere the data sets may be absent.
needs_data = pytest.mark.skipif(
    not SHARED_DATA.is_dir() and not os.environ.get("CI"), reason=f"{SHARED_DATA} not present"
)


def test_humaneval_slices_and_ids() -> None:
    tasks = load_tasks("humaneval[:3]")
    assert [t.task_id for t in tasks] == ["HumanEval/0", "HumanEval/1", "HumanEval/2"]
    assert all(t.has_hidden_tests and "check(candidate)" in (t.hidden_test or "") for t in tasks)
    assert len(load_tasks("humaneval")) == 164
    assert [t.task_id for t in load_tasks("humaneval[-2:]")] == ["HumanEval/162", "HumanEval/163"]
    picked = load_tasks("humaneval", ids=["HumanEval/5", "HumanEval/1"])
    assert [t.task_id for t in picked] == ["HumanEval/5", "HumanEval/1"]


@needs_data
def test_data_dir_sets() -> None:
    plus = load_tasks("humanevalplus", data_dir=SHARED_DATA)
    assert len(plus) == 163 and "HumanEval/32" not in {t.task_id for t in plus}
    assert load_tasks("mbpp[:2]", data_dir=SHARED_DATA)[0].task_id == "MBPP/1"
    assert len(load_tasks("mbpp", data_dir=SHARED_DATA)) == 958
    with pytest.raises(TaskError, match="MBPP/56: left out of mbpp because the data set's own solution"):
        load_tasks("mbpp", ids=["MBPP/2", "MBPP/56"], data_dir=SHARED_DATA)


@needs_data
@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap not installed")
@pytest.mark.parametrize("source", ["humaneval", "humanevalplus", "mbpp"])
def test_every_kept_reference_passes_its_hidden_tests_in_the_sandbox(source: str) -> None:
    """The built-in sets, the exclusion list and the sandbox agree: a wrong list, or a
    sandbox missing what hidden tests import (HumanEval+ needs numpy), fails here."""
    tasks = load_tasks(source, data_dir=SHARED_DATA)

    def check(task: Task, timeout_s: float) -> ExecResult:
        return sandbox.run(
            task.reference or "", (task.hidden_test or "",), timeout_s=timeout_s, **harness(task)
        )

    with Sandbox(workers=2) as sandbox, ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda t: check(t, 10.0), tasks))
        # a loaded machine can push a slow reference (HumanEval+'s many inputs) past 10 s:
        # what timed out is checked once more, alone, with more time; a failure stays one
        for i, (task, result) in enumerate(zip(tasks, results, strict=True)):
            if not result.all_passed and result.outcomes[0].status == TIMEOUT:
                results[i] = check(task, 60.0)
    failing = [
        (t.task_id, r.outcomes[0].error) for t, r in zip(tasks, results, strict=True) if not r.all_passed
    ]
    assert failing == []
    assert all(t.reference for t in tasks)


@needs_data
def test_data_dir_sets_need_a_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ACCORD_DATA_DIR", raising=False)
    with pytest.raises(TaskError, match="data directory"):
        load_tasks("mbpp")
    monkeypatch.setenv("ACCORD_DATA_DIR", str(SHARED_DATA))
    assert len(load_tasks("mbpp[:1]")) == 1


def test_user_file_formats(task_file: Path, tmp_path: Path) -> None:
    tasks = load_tasks(task_file.name, base_dir=tmp_path)
    assert [t.entry_point for t in tasks] == ["add", "rev"]
    assert tasks[0].hidden_test == "assert add(2, 3) == 5\nassert add(-1, 1) == 0\nassert add(10, 5) == 15\n"
    assert "candidate = rev" in (tasks[1].hidden_test or "")
    plain = tmp_path / "plain.jsonl"
    plain.write_text(
        json.dumps({"task_id": "p", "prompt": "Return the square of x.", "entry_point": "square"}) + "\n"
    )
    (task,) = load_tasks(str(plain))
    assert task.entry_point == "square" and not task.has_hidden_tests


@pytest.mark.parametrize(
    ("row", "fragment"),
    [
        ({"task_id": "a"}, "'prompt' is required"),
        ({"task_id": "a", "prompt": "Do it."}, "no entry_point"),
        ({"task_id": "a", "prompt": "def f(): pass", "tests": 3}, "'tests' must be"),
        ({"task_id": "a", "prompt": "def f(): pass", "tests": ["assert f( =="]}, "not valid Python"),
        ({"task_id": "a", "prompt": "def f(): pass", "extra": 1}, "unknown field 'extra'"),
    ],
)
def test_bad_user_rows(tmp_path: Path, row: dict, fragment: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(TaskError, match=fragment):
        load_tasks(str(path))


def test_bad_sources() -> None:
    with pytest.raises(TaskError, match="unknown task source"):
        load_tasks("humaneval[1]")
    with pytest.raises(TaskError, match="not in humaneval"):
        load_tasks("humaneval[:2]", ids=["HumanEval/99"])
    with pytest.raises(TaskError, match="selects no tasks"):
        load_tasks("humaneval[5:5]")
    with pytest.raises(TaskError, match="not found"):
        load_tasks("missing.jsonl")
