"""Known methods as complete fixed points of the space, enqueued as a study's first trials.

A preset is a method, not a model: it is enqueued once per coder model the study's space
offers (or per model the study file lists in ``study.preset_models``). Its trial fixes
every dimension that applies:
- the dimensions that define the method, as PRESETS says (``MAX`` stands for the largest
  value the space allows, so a preset adapts to the populations and rounds a study can
  afford);
- the coder model it is enqueued for; the tester, planner and repairer follow the coder
  (the tester uses the coder's model when the space allows it);
- every other dimension its neutral value: the default templates, no self-explanation.
Only the sampling parameters (temperatures, top_p) stay the sampler's. A dimension the
study fixes to one value keeps it; a searched dimension whose neutral value the space
does not allow is an error that names the key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from accord.space.config import CASCADE_SEPARATOR
from accord.space.errors import ConfigError
from accord.space.spec import DIMENSIONS, SAME_AS_CODER, Choice, SpaceSpec

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
    # LLM cascades with mixture of thoughts (Yue et al., ICLR 2024), its vote variant: the
    # weak model draws K = 20 chain-of-thought samples; when the most common answer holds
    # at least tau of them the weak model answers, else the strong model does, by CoT
    # self-consistency over K = 3 samples (the paper's sect. 2.2 and 3.1; tau = 0.6, from
    # the range 0.5-0.6 it recommends). Answers agree here when they behave alike.
    "mot-cascade": {
        "technique": "cot",
        "population.size": 20,
        "loop.max_rounds": 0,
        "selection.rule": "majority",
        "cascade.gate": "share",
        "cascade.threshold": 0.6,
        "cascade.last_population": 3,
    },
}

FREE = ("temperature", "top_p")
"""Sampling parameters: a method leaves them to the sampler."""


def is_cascade_preset(name: str) -> bool:
    """A method that is a cascade: enqueued on the cascades the space offers, the others
    on its single models."""
    return any(dim.startswith("cascade.") for dim in PRESETS[name])


def is_free(dimension: str) -> bool:
    return dimension.rpartition(".")[2] in FREE


def _fail(name: str, dim: str, value: Any, file: str | None) -> ConfigError:
    return ConfigError(
        f"preset {name!r} needs {dim} = {value!r}, which space.{dim} does not allow",
        file=file,
        key="presets",
    )


def _neutral(name: str, dim: str, spec: SpaceSpec, params: Mapping[str, Any], file: str | None) -> Any:
    """The value a method that does not use ``dim`` gives it."""
    domain = spec.domains[dim]
    fixed = isinstance(domain, Choice) and len(domain.values) == 1
    if DIMENSIONS[dim].kind == "model":
        coder = params["coder.model"]
        wanted = [SAME_AS_CODER, coder] if DIMENSIONS[dim].default == SAME_AS_CODER else [coder]
        for value in wanted:
            if spec.contains(dim, value):
                return value
        if fixed or dim == "tester.model":  # the study chose the tester: the method keeps it
            return spec.values(dim)[0]
        raise _fail(name, dim, wanted[0], file)
    neutral = DIMENSIONS[dim].default
    if spec.contains(dim, neutral):
        return neutral
    if fixed:
        return spec.values(dim)[0]
    raise _fail(name, dim, neutral, file)


def preset_params(
    name: str, spec: SpaceSpec, *, coder_model: str | None = None, file: str | None = None
) -> dict[str, Any]:
    """The params a preset enqueues for one coder model (default: the space's first):
    every dimension that applies but the free sampling parameters."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r} (known: {', '.join(PRESETS)})", file=file, key="presets")
    method = {dim: max(spec.values(dim)) if value == MAX else value for dim, value in PRESETS[name].items()}
    if coder_model is None:
        fitting = [m for m in spec.values("coder.model") if _fits(name, m)]
        if not fitting:
            kind = "a cascade (a>b)" if is_cascade_preset(name) else "a single model or ensemble"
            raise ConfigError(f"preset {name!r} needs {kind} in space.coder.model", file=file, key="presets")
        coder_model = fitting[0]
    params: dict[str, Any] = {}
    context: dict[str, Any] = {}  # params plus the free ones' defaults, for the conditions
    for dim, dimension in DIMENSIONS.items():
        if not dimension.when(context):
            continue
        if dim == "coder.model":
            value = coder_model
        elif dim in method:
            value = method[dim]
        elif is_free(dim):
            context[dim] = dimension.default
            continue
        else:
            value = _neutral(name, dim, spec, params, file)
        if not spec.contains(dim, value):
            raise _fail(name, dim, value, file)
        params[dim] = context[dim] = value
    return params


@dataclass(frozen=True, slots=True, kw_only=True)
class PresetTrial:
    """One preset on one coder model, as a study enqueues it."""

    name: str
    model: str
    params: Mapping[str, Any]


def preset_trials(
    names: Sequence[str], spec: SpaceSpec, *, models: Sequence[str] = (), file: str | None = None
) -> tuple[PresetTrial, ...]:
    """Every preset once per coder model: those the space offers, or ``models``."""
    offered = tuple(spec.values("coder.model"))
    for model in models:
        if model not in offered:
            raise ConfigError(
                f"{model!r} is not a value of space.coder.model ({', '.join(map(str, offered))})",
                file=file,
                key="study.preset_models",
            )
    trials = []
    for name in names:
        fitting = [model for model in (models or offered) if _fits(name, model)]
        if not fitting:
            kind = "a cascade (a>b)" if is_cascade_preset(name) else "a single model or ensemble"
            raise ConfigError(
                f"preset {name!r} runs on {kind}, and none is among the coder models it may use",
                file=file,
                key="presets",
            )
        for model in fitting:
            trials.append(
                PresetTrial(
                    name=name, model=model, params=preset_params(name, spec, coder_model=model, file=file)
                )
            )
    return tuple(trials)


def _fits(name: str, model: object) -> bool:
    return (CASCADE_SEPARATOR in str(model)) == is_cascade_preset(name)
