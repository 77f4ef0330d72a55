"""The search space read from a study file's [space] table.

Every dimension has a stable dotted name. In the study file a dimension is fixed (a
scalar), a choice (a list) or, for numbers, a range (a table with low/high and
optionally step and log). Dimensions left out take their default. Validation happens
here, at load, so a space that cannot yield a valid configuration never reaches Optuna.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from accord.space.config import CASCADE_SEPARATOR, ENSEMBLE_SEPARATOR, TEMPLATES, TOP_P
from accord.space.errors import ConfigError
from accord.space.methods import CascadeGate, RepairPolicy, SelectionRule, Technique
from accord.space.templates import PromptLibrary, load_examples

SAME_AS_CODER = "coder"
"""The planner's or repairer's model value meaning "the coder's model"."""

Condition = Callable[[Mapping[str, Any]], bool]
"""Whether a dimension applies, given the params suggested before it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Choice:
    values: tuple[Any, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Range:
    low: float
    high: float
    step: float | None = None
    log: bool = False


Domain = Choice | Range


def always(params: Mapping[str, Any]) -> bool:
    return True


def technique_uses(group: str) -> Condition:
    """The technique brings ``group`` into play (see space/methods.py)."""
    return lambda params: group in Technique(params["technique"]).uses


def planning(params: Mapping[str, Any]) -> bool:
    """A planner writes plans or specs, or checks self-explanations."""
    return technique_uses("planner")(params) or bool(params["loop.self_explain"])


def repairing(params: Mapping[str, Any]) -> bool:
    return int(params["loop.max_rounds"]) > 0


def choosing(params: Mapping[str, Any]) -> bool:
    return int(params["population.size"]) > 1


def ranking_clusters(params: Mapping[str, Any]) -> bool:
    """A population whose selection rule ranks clusters of candidates."""
    return choosing(params) and SelectionRule(params["selection.rule"]).clusters


def sharing_tests(params: Mapping[str, Any]) -> bool:
    """A population whose tests can be drawn apart from its code: the tester sees the same
    prompt for every member (a spec is written per member)."""
    return choosing(params) and not Technique(params["technique"]).tests_per_member


def cascading(params: Mapping[str, Any]) -> bool:
    """The coder's model is a cascade "a>b"."""
    return CASCADE_SEPARATOR in str(params["coder.model"])


def gate_uses(group: str) -> Condition:
    """A cascade whose gate brings ``group`` into play."""
    return lambda params: cascading(params) and group in CascadeGate(params["cascade.gate"]).uses


@dataclass(frozen=True, slots=True, kw_only=True)
class Dimension:
    kind: str
    """"model", "prompt:<stage>[,<stage>]", "str", "bool", "int" or "float"."""
    default: Any
    """The value a study file that leaves the dimension out gets (None for a model: the
    first model declared)."""
    minimum: float | None = None
    maximum: float | None = None
    allowed: tuple[str, ...] = ()
    when: Condition = always
    """The dimension applies only when this holds of the params suggested before it."""


def _role(prefix: str, prompt: str, default_prompt: str, model: Any, when: Condition) -> dict[str, Dimension]:
    dims = {
        f"{prefix}.model": Dimension(kind="model", default=model, when=when),
        f"{prefix}.prompt": Dimension(kind=f"prompt:{prompt}", default=default_prompt, when=when),
        f"{prefix}.temperature": Dimension(kind="float", default=0.2, minimum=0.0, maximum=2.0, when=when),
    }
    if prefix in ("coder", "tester"):
        dims[f"{prefix}.top_p"] = Dimension(kind="float", default=TOP_P, minimum=0.01, maximum=1.0)
    return dims


DIMENSIONS: Mapping[str, Dimension] = {
    **_role("coder", "code", TEMPLATES["code"], None, always),
    **_role("tester", "tests", TEMPLATES["tests"], None, always),
    "technique": Dimension(kind="str", default="direct", allowed=Technique.searchable_values()),
    "fewshot.k": Dimension(
        kind="int", default=2, minimum=1, maximum=len(load_examples()), when=technique_uses("fewshot")
    ),
    "population.size": Dimension(kind="int", default=1, minimum=1, maximum=1000),
    "loop.max_rounds": Dimension(kind="int", default=0, minimum=0, maximum=100),
    "loop.self_explain": Dimension(kind="bool", default=False),
    **_role("planner", "plan,spec", TEMPLATES["plan"], SAME_AS_CODER, planning),
    "repair.policy": Dimension(
        kind="str", default="code", allowed=RepairPolicy.searchable_values(), when=repairing
    ),
    **_role("repairer", "repair", TEMPLATES["repair"], SAME_AS_CODER, repairing),
    "selection.rule": Dimension(
        kind="str", default="majority", allowed=SelectionRule.searchable_values(), when=choosing
    ),
    "selection.distinguish": Dimension(kind="bool", default=False, when=ranking_clusters),
    "population.adaptive": Dimension(kind="bool", default=False, when=ranking_clusters),
    "tests.samples": Dimension(kind="int", default=0, minimum=0, maximum=1000, when=sharing_tests),
    "cascade.gate": Dimension(
        kind="str", default="share", allowed=CascadeGate.searchable_values(), when=cascading
    ),
    "cascade.threshold": Dimension(
        kind="float", default=0.5, minimum=0.0, maximum=1.0, when=gate_uses("threshold")
    ),
    "cascade.pool": Dimension(kind="bool", default=False, when=lambda p: cascading(p) and choosing(p)),
    "cascade.last_population": Dimension(kind="int", default=0, minimum=0, maximum=1000, when=cascading),
}
"""Every dimension accord knows, in the order ``suggest`` asks for them; each one's
condition reads only dimensions before it. Conditional ones: ``fewshot.k`` when the
technique is fewshot; ``planner.*`` when the technique uses a planner (plan, spec) or
self-explanation is on; ``repair.policy`` and ``repairer.*`` when loop.max_rounds > 0;
``selection.rule`` when population.size > 1; ``selection.distinguish`` and
``population.adaptive`` when the rule ranks clusters (majority, dual agreement,
clusters); ``tests.samples`` (0: one per member) when population.size > 1 and the
technique is not spec; ``cascade.*`` when the coder's model is a cascade (the threshold
when the gate has one, the pool when population.size > 1; ``cascade.last_population``,
0: the population). A model value may be an ensemble "a+b" (members take turns); the
coder's may be a cascade "a>b" of models or ensembles, cheapest first;
planner.model and repairer.model may be "coder" (the coder's model)."""


def applies(name: str, params: Mapping[str, Any]) -> bool:
    """Whether dimension ``name`` is used, given the params of the dimensions before it."""
    return DIMENSIONS[name].when(params)


@dataclass(frozen=True, slots=True, kw_only=True)
class SpaceSpec:
    domains: Mapping[str, Domain]
    """One domain per name in DIMENSIONS, defaults filled in."""

    def values(self, name: str) -> tuple[Any, ...]:
        """All values a Choice allows, or the bounds of a Range."""
        domain = self.domains[name]
        return domain.values if isinstance(domain, Choice) else (domain.low, domain.high)

    def contains(self, name: str, value: Any) -> bool:
        domain = self.domains[name]
        if isinstance(domain, Choice):
            return value in domain.values
        return isinstance(value, int | float) and domain.low <= value <= domain.high


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and not {"low", "high"} & set(value):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _check_value(name: str, dim: Dimension, value: Any, ctx: _Context) -> None:
    key = f"space.{name}"

    def fail(message: str) -> ConfigError:
        return ConfigError(message, file=ctx.file, key=key)

    if dim.kind == "model":
        if not isinstance(value, str):
            raise fail(f"expected a model alias, got {value!r}")
        if value == SAME_AS_CODER and dim.default == SAME_AS_CODER:
            return
        stages = value.split(CASCADE_SEPARATOR)
        if len(stages) > 1 and name != "coder.model":
            raise fail(f"only the coder can be a cascade ({value!r}); give one model or an ensemble")
        if len(set(stages)) != len(stages):
            raise fail(f"a cascade names a stage twice ({value!r})")
        for part in (p for stage in stages for p in stage.split(ENSEMBLE_SEPARATOR)):
            if part not in ctx.models:
                known = ", ".join(ctx.models) or "none declared"
                raise fail(f"unknown model {part!r} (models: {known})")
    elif dim.kind.startswith("prompt:"):
        stages = dim.kind.partition(":")[2].split(",")
        for stage in stages:
            if value not in ctx.prompts.names(stage):
                known = ", ".join(ctx.prompts.names(stage))
                raise fail(f"unknown {stage} template {value!r} (known: {known})")
    elif dim.kind == "bool":
        if not isinstance(value, bool):
            raise fail(f"expected true or false, got {value!r}")
    elif dim.kind == "str":
        if value not in dim.allowed:
            raise fail(f"{value!r} is not one of {', '.join(dim.allowed)}")
    else:
        numeric = int if dim.kind == "int" else (int, float)
        if isinstance(value, bool) or not isinstance(value, numeric):
            raise fail(f"expected {'an integer' if dim.kind == 'int' else 'a number'}, got {value!r}")
        if dim.minimum is not None and value < dim.minimum:
            raise fail(f"{value} is below the minimum {dim.minimum:g}")
        if dim.maximum is not None and value > dim.maximum:
            raise fail(f"{value} is above the maximum {dim.maximum:g}")


@dataclass(frozen=True, slots=True)
class _Context:
    file: str | None
    models: tuple[str, ...]
    prompts: PromptLibrary


def _domain(name: str, dim: Dimension, raw: Any, ctx: _Context) -> Domain:
    key = f"space.{name}"
    if isinstance(raw, Mapping):
        if dim.kind not in ("int", "float"):
            raise ConfigError("a range (low/high) needs a numeric dimension", file=ctx.file, key=key)
        unknown = set(raw) - {"low", "high", "step", "log"}
        if unknown:
            raise ConfigError(f"unknown range key {sorted(unknown)[0]!r}", file=ctx.file, key=key)
        if "low" not in raw or "high" not in raw:
            raise ConfigError("a range needs both low and high", file=ctx.file, key=key)
        low, high = raw["low"], raw["high"]
        for value in (low, high):
            _check_value(name, dim, value, ctx)
        if low > high:
            raise ConfigError(f"inverted range: low {low} > high {high}", file=ctx.file, key=key)
        step = raw.get("step")
        if step is not None and (not isinstance(step, int | float) or step <= 0):
            raise ConfigError(f"step must be a positive number, got {step!r}", file=ctx.file, key=key)
        log = raw.get("log", False)
        if not isinstance(log, bool) or (log and low <= 0):
            raise ConfigError("log must be true or false, and needs low > 0", file=ctx.file, key=key)
        return Range(low=low, high=high, step=step, log=log)
    values = tuple(raw) if isinstance(raw, list) else (raw,)
    if not values:
        raise ConfigError("empty list: give at least one value", file=ctx.file, key=key)
    for value in values:
        _check_value(name, dim, value, ctx)
    if len(set(values)) != len(values):
        raise ConfigError("a value is listed twice", file=ctx.file, key=key)
    return Choice(values=values)


def parse_space(
    table: Mapping[str, Any],
    *,
    models: tuple[str, ...],
    prompts: PromptLibrary,
    file: str | None = None,
) -> SpaceSpec:
    """Read the [space] table; unknown names and impossible values raise ConfigError."""
    if not models:
        raise ConfigError("declare at least one model in [models]", file=file, key="models")
    ctx = _Context(file=file, models=models, prompts=prompts)
    flat = _flatten(table)
    for name in flat:
        if name not in DIMENSIONS:
            raise ConfigError(
                f"unknown dimension (known: {', '.join(DIMENSIONS)})",
                file=file,
                key=f"space.{name}",
            )
    domains: dict[str, Domain] = {}
    for name, dim in DIMENSIONS.items():
        default = models[0] if dim.kind == "model" and dim.default is None else dim.default
        domains[name] = _domain(name, dim, flat.get(name, default), ctx)
    return SpaceSpec(domains=domains)
