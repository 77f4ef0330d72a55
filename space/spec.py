"""The search space read from a study file's [space] table.

Every dimension has a stable dotted name. In the study file a dimension is fixed (a
scalar), a choice (a list) or, for numbers, a range (a table with low/high and
optionally step and log). Dimensions left out take their default. Validation happens
here, at load, so a space that cannot yield a valid configuration never reaches Optuna.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from accord.space.config import SELECTION_RULES
from accord.space.errors import ConfigError
from accord.space.prompts import PromptLibrary


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


@dataclass(frozen=True, slots=True, kw_only=True)
class Dimension:
    kind: str
    """"model", "prompt:<role>", "str", "int" or "float"."""
    default: Any
    minimum: float | None = None
    maximum: float | None = None
    allowed: tuple[str, ...] = ()


DIMENSIONS: Mapping[str, Dimension] = {
    "coder.model": Dimension(kind="model", default=None),
    "coder.prompt": Dimension(kind="prompt:code", default="direct"),
    "coder.temperature": Dimension(kind="float", default=0.2, minimum=0.0, maximum=2.0),
    "tester.model": Dimension(kind="model", default=None),
    "tester.prompt": Dimension(kind="prompt:tests", default="basic"),
    "tester.temperature": Dimension(kind="float", default=0.2, minimum=0.0, maximum=2.0),
    "population.size": Dimension(kind="int", default=1, minimum=1, maximum=1000),
    "loop.max_rounds": Dimension(kind="int", default=0, minimum=0, maximum=100),
    "selection.rule": Dimension(kind="str", default="majority", allowed=SELECTION_RULES),
}
"""Every dimension accord knows. ``selection.rule`` applies only when population.size > 1."""


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
        if value not in ctx.models:
            known = ", ".join(ctx.models) or "none declared"
            raise fail(f"unknown model {value!r} (models: {known})")
    elif dim.kind.startswith("prompt:"):
        role = dim.kind.partition(":")[2]
        if value not in ctx.prompts.names(role):
            known = ", ".join(ctx.prompts.names(role))
            raise fail(f"unknown {role} template {value!r} (known: {known})")
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
        default = models[0] if dim.kind == "model" else dim.default
        domains[name] = _domain(name, dim, flat.get(name, default), ctx)
    return SpaceSpec(domains=domains)
