"""`accord exec` and the sandbox on what a candidate says about itself: a builtin it
redefines, a StopIteration, a load error dressed as a time-out, and text a terminal
would obey."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from accord.runners.sandbox import Sandbox, Status


@pytest.fixture(scope="module")
def box() -> Iterator[Sandbox]:
    with Sandbox(workers=1) as sandbox:
        yield sandbox


def exec_cli(tmp_path: Path, code: str, tests: str, *extra: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "code.py").write_text(code)
    (tmp_path / "tests.py").write_text(tests)
    return subprocess.run(
        [sys.executable, "-m", "accord.search.cli", "exec", str(tmp_path / "code.py"), str(tmp_path / "tests.py"), *extra],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize("builtin", ["sorted", "abs", "len"])
def test_a_candidate_cannot_redefine_the_builtins_its_tests_use(tmp_path: Path, builtin: str) -> None:
    # a wrong f, and the builtin the tests compare it with made to agree
    code = f"def f(x):\n    return 0\ndef {builtin}(x):\n    return 0\n"
    tests = (
        f"assert f([3, -1, 2]) == {builtin}([3, -1, 2])\n"
        if builtin != "abs"
        else "assert f(-5) == abs(-5)\n"
    )
    result = exec_cli(tmp_path, code, tests)
    assert result.returncode == 1 and "0 passed, 1 failed" in result.stdout


def test_a_stop_iteration_from_the_candidate_is_an_error_not_the_end_of_a_loop(box: Sandbox) -> None:
    code = "def f(x):\n    raise StopIteration\n"
    result = box.run(
        code, ["assert all(map(f, [1, 2, 3]))", "assert [y for y in map(f, [1])] == []"], timeout_s=2.0
    )
    assert [o.status for o in result.outcomes] == [Status.ERROR, Status.ERROR]
    assert "StopIteration" in result.outcomes[0].error


@pytest.mark.parametrize(
    "raiser",
    [
        "class timeout(Exception):\n    pass\nraise timeout('while loading the code')\n",
        "raise type('timeout while loading the code', (Exception,), {})()\n",
    ],
)
def test_a_load_error_the_candidate_raised_is_never_a_timeout(box: Sandbox, raiser: str) -> None:
    (outcome,) = box.run(raiser + "def f():\n    return 1\n", ["assert f() == 1"], timeout_s=2.0).outcomes
    assert outcome.status == Status.ERROR and outcome.error.startswith("code failed to load: timeout")


def test_a_load_that_takes_too_long_is_a_timeout(box: Sandbox) -> None:
    (outcome,) = box.run("while True:\n    pass\n", ["assert f() == 1"], timeout_s=0.5).outcomes
    assert outcome.status == Status.TIMEOUT and "timeout while loading the code" in outcome.error


def test_exec_shows_control_characters_and_lone_surrogates_escaped(tmp_path: Path) -> None:
    code = "def f(x):\n    raise ValueError('\\udcff \\x1b[31mred\\x1b[0m \\x07')\n"
    result = exec_cli(tmp_path, code, "assert f(1) == 1\n")
    assert result.returncode == 1, result.stderr
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "\\udcff \\x1b[31mred\\x1b[0m \\x07" in result.stdout
