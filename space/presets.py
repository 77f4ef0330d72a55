"""Known methods as fixed points of the space, enqueued as a study's first trials.

A preset fixes the dimensions that define the method and leaves the rest (models,
temperatures) to the sampler. ``MAX`` stands for the largest value the study's space
allows, so a preset adapts to the population sizes and round counts a study can afford.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from accord.space.errors import ConfigError
from accord.space.spec import DIMENSIONS, SpaceSpec, applies

MAX = "max"

PRESETS: Mapping[str, Mapping[str, Any]] = {
    # One sample, no feedback: the baseline every paper reports.
    "single-shot": {"technique": "direct", "population.size": 1, "loop.max_rounds": 0},
    # Chain-of-thought self-consistency (Wang et al.): many reasoned samples, the
    # behavioural majority wins.
    "cot-sc": {
        "technique": "cot",
        "population.size": MAX,
        "loop.max_rounds": 0,
        "selection.rule": "majority",
    },
    # CodeT (Chen et al.): N code and N test samples, dual agreement picks the code.
    "codet": {
        "technique": "direct",
        "population.size": MAX,
        "loop.max_rounds": 0,
        "selection.rule": "dual_agreement",
    },
    # Self-Debug (Chen et al.): one sample repaired with the failing tests as feedback.
    "self-debug": {
        "technique": "direct",
        "population.size": 1,
        "loop.max_rounds": MAX,
        "repair.policy": "code",
    },
    # Reflexion (Shinn et al.): a written reflection on the failure, then the repair.
    "reflexion": {
        "technique": "direct",
        "population.size": 1,
        "loop.max_rounds": MAX,
        "repair.policy": "reflect",
    },
    # AgentCoder (Huang et al.): a reasoning programmer, a separate test designer that
    # targets edge cases, and a feedback loop between them.
    "agentcoder": {
        "technique": "cot",
        "tester.prompt": "edge",
        "population.size": 1,
        "loop.max_rounds": MAX,
        "repair.policy": "code",
    },
    # The experiment accord grew from: regenerate code and tests until they agree (100%
    # of the tests pass), up to 5 tries.
    "seed": {
        "technique": "direct",
        "population.size": 1,
        "loop.max_rounds": 5,
        "repair.policy": "both",
    },
}


def preset_params(name: str, spec: SpaceSpec, *, file: str | None = None) -> dict[str, Any]:
    """The params a preset enqueues in this space; a value outside the space is an error."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r} (known: {', '.join(PRESETS)})", file=file, key="presets")
    params: dict[str, Any] = {}
    for dim, value in PRESETS[name].items():
        if value == MAX:
            value = max(spec.values(dim))
        params[dim] = value
    context = {dim: dimension.default for dim, dimension in DIMENSIONS.items()} | params
    for dim, value in list(params.items()):
        if not applies(dim, context):
            del params[dim]
        elif not spec.contains(dim, value):
            raise ConfigError(
                f"preset {name!r} needs {dim} = {value!r}, which space.{dim} does not allow",
                file=file,
                key="presets",
            )
    return params
