"""No leakage into prompts: MBPP shows at most one example of its hidden asserts, the
asserts HumanEval's prompts show are identified, and false alignment is measured only on
what the prompt does not show."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from accord.runners.tasks.leakage import prompt_calls, shows, split, unseen_check
from accord.runners.tasks.load import load_tasks, load_user_file
from tests.helpers import SHARED_DATA

needs_data = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="needs ../shared/data")


@needs_data
def test_mbpp_prompts_show_at_most_one_hidden_assert() -> None:
    tasks = load_tasks("mbpp", data_dir=SHARED_DATA)
    for task in tasks:
        assert task.prompt.count(">>>") <= 1, task.task_id
        shown = split(task)
        assert len(shown.visible) <= 1, task.task_id
        assert (shown.unseen is not None) == (shown.total > shown.shown), task.task_id
    # mxeval's own prompts showed every hidden assert: the visible calls of the original
    # prompt cover the hidden checks of nearly every task
    assert sum(split(t).shown >= 1 for t in tasks) > 900


@needs_data
def test_humaneval_visible_asserts_are_identified() -> None:
    tasks = load_tasks("humaneval")
    splits = {t.task_id: split(t) for t in tasks}
    with_shown = [tid for tid, s in splits.items() if s.shown]
    assert 90 <= len(with_shown) <= 130  # about two thirds of HumanEval shows hidden asserts
    assert (splits["HumanEval/0"].shown, splits["HumanEval/0"].total) == (
        0,
        7,
    )  # examples not among its checks
    second = splits["HumanEval/2"]
    assert (second.shown, second.total) == (1, 3) and second.visible == frozenset({"truncate_number(3.5)"})
    assert (
        second.unseen is not None
        and "candidate(3.5)" not in second.unseen
        and "candidate(1.33)" in second.unseen
    )


def test_false_alignment_is_judged_on_the_unseen_asserts(tmp_path: Path) -> None:
    row = {
        "task_id": "t/sq",
        "prompt": 'def sq(x: int) -> int:\n    """Square x.\n    >>> sq(3)\n    9\n    """\n',
        "tests": ["assert sq(3) == 9", "assert sq(-2) == 4", "assert sq(0) == 0"],
    }
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps(row) + "\n")
    (task,) = load_user_file(path)
    shown = split(task)
    assert shown.visible == frozenset({"sq(3)"}) and (shown.shown, shown.total) == (1, 3)
    assert shown.unseen is not None and "sq(3)" not in shown.unseen and "sq(-2)" in shown.unseen
    # a generated assert restating the shown example is not evidence of understanding
    assert shows("assert sq(3) == 9", "sq", shown.visible) and not shows(
        "assert sq(5) == 25", "sq", shown.visible
    )


def test_visible_calls_are_normalised() -> None:
    prompt = 'def f(xs, k):\n    """\n    f( [1,2],  k="a" ) ➞ 3\n    >>> f([1, 2], k=\'a\')\n    """\n'
    assert prompt_calls(prompt, "f") == frozenset({"f([1, 2], k='a')"})
    test = "def check(candidate):\n    assert candidate([1, 2], k='a') == 3\n    assert candidate([], k='b') == 0\n"
    unseen, shown, total = unseen_check(test, "f", prompt_calls(prompt, "f"))
    assert (shown, total) == (1, 2) and unseen is not None and "'b'" in unseen and "'a'" not in unseen
