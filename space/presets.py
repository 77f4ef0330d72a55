"""Known methods as fixed points of the space, enqueued as a study's first trials.

A preset fixes the dimensions that define the method and leaves the rest (models,
temperatures) to the sampler. ``MAX`` stands for the largest value the study's space
allows, so a preset adapts to the population sizes and round counts a study can afford.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from accord.space.errors import ConfigError
from accord.space.spec import SpaceSpec

MAX = "max"

PRESETS: Mapping[str, Mapping[str, Any]] = {
    # One sample, no feedback: the baseline every paper reports.
    "single-shot": {"population.size": 1, "loop.max_rounds": 0, "coder.prompt": "direct"},
    # Chain-of-thought self-consistency: many reasoned samples, majority behaviour wins.
    "cot-sc": {
        "population.size": MAX,
        "loop.max_rounds": 0,
        "coder.prompt": "cot",
        "selection.rule": "majority",
    },
    # Self-Debug: one sample repaired with the failing tests as feedback.
    "self-debug": {"population.size": 1, "loop.max_rounds": MAX, "coder.prompt": "direct"},
    # The experiment accord grew from: regenerate until 100% pass, up to 5 tries.
    "seed": {"population.size": 1, "loop.max_rounds": 5, "coder.prompt": "direct"},
}


def preset_params(name: str, spec: SpaceSpec, *, file: str | None = None) -> dict[str, Any]:
    """The params a preset enqueues in this space; a value outside the space is an error."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r} (known: {', '.join(PRESETS)})", file=file, key="presets")
    params: dict[str, Any] = {}
    for dim, value in PRESETS[name].items():
        if dim == "selection.rule" and params.get("population.size") == 1:
            continue
        if value == MAX:
            value = max(spec.values(dim))
        if not spec.contains(dim, value):
            raise ConfigError(
                f"preset {name!r} needs {dim} = {value!r}, which space.{dim} does not allow",
                file=file,
                key="presets",
            )
        params[dim] = value
    return params
