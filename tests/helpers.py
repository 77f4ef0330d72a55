"""Helpers shared by the tests: two toy tasks with hidden tests, their right and wrong
code, good tests, and a scripted model that solves them."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from accord.runners.llm import LLMRequest
from accord.runners.testing import by_role, fenced
from accord.search.study import measured  # noqa: F401  (re-exported for the tests)

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"


def load_benchmark(name: str) -> ModuleType:
    """``benchmarks/<name>.py`` as a module, as ``python benchmarks/<name>.py`` sees its
    siblings (``common``)."""
    folder = str(REPO / "benchmarks")
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", REPO / "benchmarks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
