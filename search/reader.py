"""Typed, checked reading of TOML tables: study files and exported configurations go
through the same code, so a value one accepts the other accepts too.

Every problem is a ConfigError naming the file and the dotted key; numbers must be
finite and within their bounds; an unknown key is an error.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

from accord.runners.llm import ModelSpec
from accord.runners.llm.local import LOCAL_MODELS
from accord.runners.llm.replay import corpus_path
from accord.space import ConfigError
from accord.space.config import CASCADE_SEPARATOR, ENSEMBLE_SEPARATOR
from accord.space.spec import SAME_AS_CODER

Check = Callable[[Any], str | None]
MAX_RETRIES = 20
MAX_TIMEOUT_S = 24 * 3600.0


def default(cls: type, name: str) -> Any:
    """The default of field ``name`` of dataclass ``cls``: the study file's defaults are the
    records' own."""
    return next(f.default for f in fields(cls) if f.name == name)


def read_toml(path: Path, what: str) -> dict[str, Any]:
    """A TOML file's tables; any unreadable file is one ConfigError naming it."""
    if not path.is_file():
        raise ConfigError(f"{what} not found", file=str(path))
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text (byte {exc.start}): is this a {what}?", file=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML ({exc})", file=str(path)) from None
    except OSError as exc:
        raise ConfigError(f"cannot read it ({exc.strerror})", file=str(path)) from None


def between(low: float, high: float) -> Check:
    return lambda v: None if low <= v <= high else f"must be between {low:g} and {high:g}, got {v}"


def positive(value: float) -> str | None:
    return None if value > 0 else f"must be positive, got {value}"


def positive_at_most(high: float) -> Check:
    return lambda v: None if 0 < v <= high else f"must be positive and at most {high:g}, got {v}"


def _kind_name(kinds: tuple[type, ...]) -> str:
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string", list: "a list"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


class TableReader:
    """Typed access to one table of a file; remembers which keys were read."""

    def __init__(self, file: str, prefix: str, table: Any) -> None:
        if not isinstance(table, dict):
            raise ConfigError("expected a table", file=file, key=prefix or None)
        self.file, self.prefix, self.table = file, prefix, table
        self.seen: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def fail(self, name: str, message: str) -> ConfigError:
        return ConfigError(message, file=self.file, key=self.key(name))

    def get(
        self, name: str, kind: type | tuple[type, ...], default: Any = None, *, check: Check | None = None
    ) -> Any:
        self.seen.add(name)
        if name not in self.table:
            return default
        value = self.table[name]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds:
            raise self.fail(name, f"expected {_kind_name(kinds)}, got {value!r}")
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kinds):
            raise self.fail(name, f"expected {_kind_name(kinds)}, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise self.fail(name, f"must be a finite number, got {value}")
        problem = check(value) if check else None
        if problem:
            raise self.fail(name, problem)
        return value

    def choice(self, name: str, options: tuple[str, ...], default: str) -> str:
        known = ", ".join(options)
        return str(
            self.get(
                name, str, default, check=lambda v: None if v in options else f"{v!r} is not one of {known}"
            )
        )

    def strings(self, name: str) -> tuple[str, ...]:
        value = self.get(name, list, [])
        if not all(isinstance(item, str) for item in value):
            raise self.fail(name, "expected a list of strings")
        return tuple(value)

    def sub(self, name: str) -> TableReader:
        self.seen.add(name)
        return TableReader(self.file, self.key(name), self.table.get(name, {}))

    def done(self) -> None:
        for name in self.table:
            if name not in self.seen:
                raise self.fail(name, "unknown key")


def _resolved(base: Path, value: str | None) -> str | None:
    return None if value is None else str((base / value).resolve())


def read_model(file: str, alias: str, table: Any, *, base: Path) -> ModelSpec:
    """One [models.<alias>] table; ``base`` resolves a relative replay corpus path."""
    if alias == SAME_AS_CODER or ENSEMBLE_SEPARATOR in alias or CASCADE_SEPARATOR in alias or not alias:
        raise ConfigError(
            f"{alias!r} cannot name a model: {SAME_AS_CODER!r} means the coder's model and "
            f"{ENSEMBLE_SEPARATOR!r} joins an ensemble, {CASCADE_SEPARATOR!r} a cascade",
            file=file,
            key=f"models.{alias}",
        )
    reader = TableReader(file, f"models.{alias}", table)
    model = reader.get("model", str)
    if not model:
        raise reader.fail("model", "required: a litellm model name, local/<name> or replay/<corpus>")
    local = LOCAL_MODELS.get(model.removeprefix("local/")) if model.startswith("local/") else None
    if model.startswith("local/") and local is None:
        known = ", ".join(f"local/{n}" for n in LOCAL_MODELS)
        raise reader.fail("model", f"unknown local model {model!r} (known: {known})")
    price = between(0.0, 1.0)  # USD per token: a dollar a token is surely a typo
    spec = ModelSpec(
        alias=alias,
        model=model,
        api_base=reader.get("api_base", str),
        api_key_env=reader.get("api_key_env", str),
        input_cost_per_token=reader.get(
            "input_cost_per_token", float, local.input_cost_per_token if local else None, check=price
        ),
        output_cost_per_token=reader.get(
            "output_cost_per_token", float, local.output_cost_per_token if local else None, check=price
        ),
        timeout_s=reader.get(
            "timeout_s", float, default(ModelSpec, "timeout_s"), check=positive_at_most(MAX_TIMEOUT_S)
        ),
        path=_resolved(base, reader.get("path", str)),
        max_concurrent=reader.get("max_concurrent", int, check=between(1, 4096)),
        rpm=reader.get("rpm", float, check=positive),
        max_retries=reader.get(
            "max_retries", int, default(ModelSpec, "max_retries"), check=between(0, MAX_RETRIES)
        ),
    )
    reader.done()
    if spec.is_replay:
        try:
            location = corpus_path(spec)
        except ConfigError as exc:  # neither a path nor ACCORD_REPLAY_DIR
            raise reader.fail("path", str(exc).removeprefix(f"models.{alias}.path: ")) from None
        if not location.is_file():
            raise reader.fail("path", f"replay corpus {location} not found")
    elif spec.path is not None:
        raise reader.fail("path", "only replay/<corpus> models take a path")
    return spec


def read_models(file: str, table: Mapping[str, Any], *, base: Path) -> dict[str, ModelSpec]:
    models = {alias: read_model(file, alias, entry, base=base) for alias, entry in table.items()}
    if not models:
        raise ConfigError(
            'declare at least one model, e.g. [models.small] model = "local/smollm2-135m"',
            file=file,
            key="models",
        )
    return models
