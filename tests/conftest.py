from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from accord.runners.testing import ScriptedBackend
from tests.helpers import TASKS, solving_script


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
    import accord.runners.runtime as runtime

    monkeypatch.setattr(runtime, "LiteLLMBackend", lambda *args, **kwargs: backend)
    return backend
