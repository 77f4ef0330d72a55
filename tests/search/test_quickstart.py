"""The quick start stays a few minutes long on two cores because of one property of its
space, checked here by running every configuration it holds against a scripted model:
each configuration asks Qwen only for answers a preset asks for (the response cache
generates each once), and SmolLM2 (135M, cheap) for at most two code samples a task."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import optuna
import pytest

from accord.runners.llm import Gateway, LLMRequest, Meter, ModelSpec
from accord.runners.loop.members import LoopContext
from accord.runners.loop.population import run_population
from accord.runners.sandbox import Sandbox
from accord.runners.tasks.load import load_tasks
from accord.runners.testing import ScriptedBackend, fenced
from accord.search.best import preset_config
from accord.search.studyfile import StudyDefinition, load_study
from accord.space import PromptLibrary, RunConfig
from accord.space.spec import DIMENSIONS
from accord.space.suggest import suggest
from tests.helpers import REPO

QUICKSTART = REPO / "studies" / "quickstart.toml"
GOOD = "def has_close_elements(numbers, threshold):\n    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1 :])"
BAD = "def has_close_elements(numbers, threshold):\n    return False"
TESTS = (
    "assert has_close_elements([1.0, 1.05], 0.1) == True\n"
    "assert has_close_elements([1.0, 3.0], 0.5) == False\n"
    "assert has_close_elements([1.0, 2.0, 1.01], 0.1) == True"
)


def answer(request: LLMRequest) -> str:
    """Qwen right, SmolLM2 wrong (so every cascade reaches its second stage)."""
    if request.stage == "tests":
        return fenced(TESTS)
    return fenced(BAD if request.model == "smollm2" else GOOD)


Key = tuple[str, str, int, float, str]


def asked(config: RunConfig, box: Sandbox) -> set[Key]:
    """What one configuration asks the models on HumanEval/0."""
    backend = ScriptedBackend(answer)
    models = {alias: ModelSpec(alias=alias, model=f"fake/{alias}") for alias in ("smollm2", "qwen")}
    ctx = LoopContext(
        gateway=Gateway(models, backend),
        executor=box,
        prompts=PromptLibrary.load(),
        meter=Meter(unit="tokens"),
    )
    run_population(load_tasks("humaneval[:1]")[0], config, ctx)
    return {
        (
            r.model,
            r.stage,
            r.sample,
            r.temperature,
            hashlib.sha256(json.dumps(r.messages).encode()).hexdigest(),
        )
        for r in backend.calls
    }


def every_configuration(definition: StudyDefinition) -> Iterator[dict[str, Any]]:
    """Every point of the study's space, each dimension that applies at each of its values."""
    names = list(DIMENSIONS)

    def walk(params: dict[str, Any], i: int) -> Iterator[dict[str, Any]]:
        if i == len(names):
            yield dict(params)
            return
        name = names[i]
        if not DIMENSIONS[name].when(params):
            yield from walk(params, i + 1)
            return
        for value in definition.space.values(name):
            params[name] = value
            yield from walk(params, i + 1)
            del params[name]

    yield from walk({}, 0)


@pytest.fixture(scope="module")
def box() -> Iterator[Sandbox]:
    with Sandbox() as sandbox:
        yield sandbox


def test_every_configuration_asks_qwen_only_what_a_preset_asks(box: Sandbox) -> None:
    definition = load_study(QUICKSTART)
    assert [(p.name, p.model) for p in definition.preset_trials] == [
        ("single-shot", "qwen"),
        ("codet", "qwen"),
    ]
    assert definition.holdout == 0.5  # the quick start confirms on tasks its search never saw
    assert all(spec.is_local for spec in definition.models.values())
    by_presets = set().union(
        *(asked(preset_config(p.name, definition, p.model), box) for p in definition.preset_trials)
    )
    configurations = list(every_configuration(definition))
    assert {c["coder.model"] for c in configurations} == {"smollm2", "qwen", "smollm2>qwen"}  # a cascade too
    for params in configurations:
        config = suggest(optuna.trial.FixedTrial(params), definition.space, definition.settings)
        calls = asked(config, box)
        assert {c for c in calls if c[0] == "qwen"} <= by_presets, params
        assert len({c for c in calls if c[0] == "smollm2"}) <= 2, params
