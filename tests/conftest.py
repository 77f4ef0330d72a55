from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from accord.runners.llm import LLMRequest
from accord.runners.testing import ScriptedBackend, by_role, fenced

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"

# Two small tasks with hidden tests, written as a user task file.
TASKS = [
    {
        "task_id": "t/add",
        "prompt": 'def add(a: int, b: int) -> int:\n    """Return a + b.\n    >>> add(2, 3)\n    5\n    """\n',
        "tests": ["assert add(2, 3) == 5", "assert add(-1, 1) == 0", "assert add(10, 5) == 15"],
    },
    {
        "task_id": "t/rev",
        "prompt": 'def rev(s: str) -> str:\n    """Return s reversed.\n    >>> rev("ab")\n    "ba"\n    """\n',
        "tests": "def check(candidate):\n    assert candidate('ab') == 'ba'\n    assert candidate('') == ''\n",
    },
]

GOOD_CODE = {
    "add": "def add(a, b):\n    return a + b",
    "rev": "def rev(s):\n    return s[::-1]",
}
BAD_CODE = {
    "add": "def add(a, b):\n    return a - b",
    "rev": "def rev(s):\n    return s",
}
GOOD_TESTS = {
    "add": "assert add(2, 3) == 5\nassert add(0, 0) == 0\nassert add(-2, 7) == 5",
    "rev": "assert rev('ab') == 'ba'\nassert rev('abc') == 'cba'\nassert rev('x') == 'x'",
}


def entry_of(request: LLMRequest) -> str:
    text = request.messages[-1]["content"]
    return "add" if "def add" in text else "rev"


def solving_script(*, coder_models: tuple[str, ...] = ("good",)) -> Callable[[LLMRequest], str]:
    """Models named in coder_models write correct code; others write wrong code that a
    repair request fixes. Every tester writes good tests."""

    def coder(request: LLMRequest) -> str:
        table = GOOD_CODE if request.model in coder_models else BAD_CODE
        return fenced(table[entry_of(request)])

    return by_role(
        {
            "coder": coder,
            "tester": lambda r: fenced(GOOD_TESTS[entry_of(r)]),
            "repairer": lambda r: fenced(GOOD_CODE[entry_of(r)]),
        }
    )


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own response cache and model cache: no state leaks between tests."""
    path = tmp_path_factory.mktemp("accord-cache")
    monkeypatch.setenv("ACCORD_CACHE_DIR", str(path))
    return path


@pytest.fixture
def task_file(tmp_path: Path) -> Path:
    path = tmp_path / "tasks.jsonl"
    path.write_text("".join(json.dumps(t) + "\n" for t in TASKS))
    return path


@pytest.fixture
def study_file(tmp_path: Path, task_file: Path) -> Callable[..., Path]:
    """Write a study file over the two fake tasks; ``extra`` is appended TOML."""

    def write(extra: str = "", *, space: str | None = None, name: str = "s") -> Path:
        space = space or textwrap.dedent(
            """
            coder.model = ["good", "bad"]
            population.size = [1, 2]
            loop.max_rounds = [0, 1]
            selection.rule = ["majority", "first_aligned"]
            """
        )
        text = textwrap.dedent(
            f"""
            [study]
            name = "{name}"
            seed = 1
            sampler = "random"

            [tasks]
            source = "{task_file}"

            [budget]
            n_trials = 3

            [models.good]
            model = "fake/good"
            input_cost_per_token = 1e-6
            output_cost_per_token = 2e-6

            [models.bad]
            model = "fake/bad"
            input_cost_per_token = 1e-7
            output_cost_per_token = 2e-7
            """
        )
        path = tmp_path / f"{name}.toml"
        path.write_text(text + extra + "\n[space]\n" + textwrap.dedent(space))
        return path

    return write


@pytest.fixture
def fake_backend(monkeypatch: pytest.MonkeyPatch) -> ScriptedBackend:
    """Route the CLI's real runtime to a scripted backend (the model alias picks the behaviour)."""
    backend = ScriptedBackend(solving_script())
    import accord.search.runtime as runtime

    monkeypatch.setattr(runtime, "LiteLLMBackend", lambda *args, **kwargs: backend)
    return backend
