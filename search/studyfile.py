"""Study files (TOML) loaded into a frozen StudyDefinition.

Every key is checked: an unknown key, a wrong type or an impossible value raises a
ConfigError naming the file and the dotted key, never a traceback.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from accord.runners.llm import ModelSpec
from accord.runners.local import LOCAL_MODELS
from accord.runners.loop import HIDDEN_TIMEOUT_S
from accord.runners.replay import corpus_path
from accord.runners.run import PASS_SOURCES
from accord.space import PRESETS, ConfigError, PromptLibrary, RunConfig, SpaceSpec, parse_space, preset_params
from accord.space.config import ENSEMBLE_SEPARATOR
from accord.space.spec import SAME_AS_CODER

SAMPLERS = ("tpe", "nsga2", "gp", "random")


def default(cls: type, name: str) -> Any:
    """The default of field ``name`` of dataclass ``cls``: the study file's defaults are the
    records' own."""
    return next(f.default for f in fields(cls) if f.name == name)


COST_UNITS = ("usd", "tokens", "seconds")
MAX_RETRIES = 20
LOOP_SETTINGS: Mapping[str, type] = {
    "max_tokens": int,
    "min_asserts": int,
    "max_asserts": int,
    "test_timeout_s": float,
}
"""The [loop] table: fixed RunConfig fields, the same for every trial."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StudyDefinition:
    path: Path
    name: str
    storage: str
    artifact_dir: Path
    sampler: str
    seed: int | None
    presets: tuple[str, ...]
    task_source: str
    task_ids: tuple[str, ...]
    data_dir: Path | None
    pass_source: str
    cost_unit: str
    n_trials: int
    max_cost_per_trial: float | None
    max_total_cost: float | None
    """Cap on the study's summed cost objective (cache hits count: the cap is conservative)."""
    timeout_s: float | None
    models: Mapping[str, ModelSpec]
    space: SpaceSpec
    settings: Mapping[str, Any]
    """Fixed loop settings (max_tokens, min/max_asserts, test_timeout_s) for every trial."""
    hidden_timeout_s: float = HIDDEN_TIMEOUT_S
    """Time-out of one task's hidden-test check."""
    prompts: PromptLibrary
    cache: bool
    preset_params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


class _Reader:
    """Typed access to one table of the file; remembers which keys were read."""

    def __init__(self, file: str, prefix: str, table: Any) -> None:
        if not isinstance(table, dict):
            raise ConfigError("expected a table", file=file, key=prefix)
        self.file, self.prefix, self.table = file, prefix, table
        self.seen: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def fail(self, name: str, message: str) -> ConfigError:
        return ConfigError(message, file=self.file, key=self.key(name))

    def get(
        self,
        name: str,
        kind: type | tuple[type, ...],
        default: Any = None,
        *,
        check: Callable[[Any], str | None] | None = None,
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
        problem = check(value) if check else None
        if problem:
            raise self.fail(name, problem)
        return value

    def choice(self, name: str, options: tuple[str, ...], default: str) -> str:
        return str(
            self.get(
                name,
                str,
                default,
                check=lambda v: None if v in options else f"{v!r} is not one of {', '.join(options)}",
            )
        )

    def strings(self, name: str) -> tuple[str, ...]:
        value = self.get(name, list, [])
        if not all(isinstance(item, str) for item in value):
            raise self.fail(name, "expected a list of strings")
        return tuple(value)

    def sub(self, name: str) -> _Reader:
        self.seen.add(name)
        return _Reader(self.file, self.key(name), self.table.get(name, {}))

    def done(self) -> None:
        for name in self.table:
            if name not in self.seen:
                raise self.fail(name, "unknown key")


def _kind_name(kinds: tuple[type, ...]) -> str:
    names = {
        bool: "true or false",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a table",
    }
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _positive(value: float) -> str | None:
    return None if value > 0 else f"must be positive, got {value}"


def _resolved(study: Path, value: str | None) -> str | None:
    return None if value is None else str((study.parent / value).resolve())


def _model(file: str, alias: str, table: Any) -> ModelSpec:
    path_of_study = Path(file)
    if alias == SAME_AS_CODER or ENSEMBLE_SEPARATOR in alias:
        raise ConfigError(
            f"{alias!r} cannot name a model: {SAME_AS_CODER!r} means the coder's model and "
            f"{ENSEMBLE_SEPARATOR!r} joins an ensemble",
            file=file,
            key=f"models.{alias}",
        )
    reader = _Reader(file, f"models.{alias}", table)
    model = reader.get("model", str)
    if model is None:
        raise reader.fail("model", "required: a litellm model name or local/<name>")
    local = LOCAL_MODELS.get(model.removeprefix("local/")) if model.startswith("local/") else None
    if model.startswith("local/") and local is None:
        known = ", ".join(f"local/{n}" for n in LOCAL_MODELS)
        raise reader.fail("model", f"unknown local model {model!r} (known: {known})")
    price_check = lambda v: None if v >= 0 else "a price cannot be negative"  # noqa: E731
    spec = ModelSpec(
        alias=alias,
        model=model,
        api_base=reader.get("api_base", str),
        api_key_env=reader.get("api_key_env", str),
        input_cost_per_token=reader.get(
            "input_cost_per_token",
            float,
            local.input_cost_per_token if local else None,
            check=price_check,
        ),
        output_cost_per_token=reader.get(
            "output_cost_per_token",
            float,
            local.output_cost_per_token if local else None,
            check=price_check,
        ),
        timeout_s=reader.get("timeout_s", float, default(ModelSpec, "timeout_s"), check=_positive),
        path=_resolved(path_of_study, reader.get("path", str)),
        max_concurrent=reader.get("max_concurrent", int, check=_positive),
        rpm=reader.get("rpm", float, check=_positive),
        max_retries=reader.get(
            "max_retries",
            int,
            default(ModelSpec, "max_retries"),
            check=lambda v: None if 0 <= v <= MAX_RETRIES else f"must be between 0 and {MAX_RETRIES}",
        ),
    )
    reader.done()
    if spec.model.startswith("replay/"):
        location = corpus_path(spec)  # raises when neither path nor ACCORD_REPLAY_DIR is set
        if not location.is_file():
            raise reader.fail("path", f"replay corpus {location} not found")
    elif spec.path is not None:
        raise reader.fail("path", "only replay/<corpus> models take a path")
    return spec


def parse_study(data: Mapping[str, Any], path: Path) -> StudyDefinition:
    file = str(path)
    root = _Reader(file, "", dict(data))
    study = root.sub("study")
    name = study.get("name", str, path.stem)
    runs = path.parent / "runs"
    storage = study.get("storage", str, f"sqlite:///{(runs / f'{name}.db').resolve()}")
    sampler = study.choice("sampler", SAMPLERS, "tpe")
    seed = study.get("seed", int)
    presets = study.strings("presets")
    for preset in presets:
        if preset not in PRESETS:
            raise study.fail("presets", f"unknown preset {preset!r} (known: {', '.join(PRESETS)})")
    study.done()

    tasks = root.sub("tasks")
    source = tasks.get("source", str)
    if not source:
        raise tasks.fail("source", "required: humaneval, humaneval[:5], humanevalplus, mbpp or a .jsonl path")
    ids = tasks.strings("ids")
    data_dir_raw = tasks.get("data_dir", str)
    data_dir = (path.parent / data_dir_raw).resolve() if data_dir_raw else None
    hidden_timeout_s = tasks.get("hidden_timeout_s", float, HIDDEN_TIMEOUT_S, check=_positive)
    tasks.done()

    objectives = root.sub("objectives")
    pass_source = objectives.choice("pass_rate", PASS_SOURCES, "hidden")
    cost_unit = objectives.choice("cost", COST_UNITS, "usd")
    objectives.done()

    budget = root.sub("budget")
    n_trials = budget.get("n_trials", int, 10, check=_positive)
    max_cost = budget.get("max_cost_per_trial", float, check=_positive)
    max_total = budget.get("max_total_cost", float, check=_positive)
    timeout_s = budget.get("timeout_s", float, check=_positive)
    budget.done()

    models_table = root.sub("models")
    models = {alias: _model(file, alias, table) for alias, table in models_table.table.items()}
    if not models:
        raise ConfigError(
            'declare at least one model, e.g. [models.small] model = "local/smollm2-135m"',
            file=file,
            key="models",
        )

    prompts_table = root.sub("prompts")
    dirs = tuple((path.parent / d).resolve() for d in prompts_table.strings("dirs"))
    prompts_table.done()
    prompts = PromptLibrary.load(dirs)

    loop = root.sub("loop")
    settings = {
        name: loop.get(name, kind, default(RunConfig, name), check=_positive)
        for name, kind in LOOP_SETTINGS.items()
    }
    if settings["min_asserts"] > settings["max_asserts"]:
        raise loop.fail("max_asserts", f"must be at least min_asserts ({settings['min_asserts']})")
    loop.done()

    cache = root.sub("cache")
    use_cache = cache.get("enabled", bool, True)
    cache.done()

    root.seen.add("space")
    space_table = data.get("space", {})
    if not isinstance(space_table, dict):
        raise ConfigError("expected a table", file=file, key="space")
    space = parse_space(space_table, models=tuple(models), prompts=prompts, file=file)
    root.done()

    return StudyDefinition(
        path=path,
        name=name,
        storage=storage,
        artifact_dir=runs / f"{name}-artifacts",
        sampler=sampler,
        seed=seed,
        presets=presets,
        task_source=source,
        task_ids=ids,
        data_dir=data_dir,
        pass_source=pass_source,
        cost_unit=cost_unit,
        n_trials=n_trials,
        max_cost_per_trial=max_cost,
        max_total_cost=max_total,
        timeout_s=timeout_s,
        models=models,
        space=space,
        settings=settings,
        hidden_timeout_s=hidden_timeout_s,
        prompts=prompts,
        cache=use_cache,
        preset_params={p: preset_params(p, space, file=file) for p in presets},
    )


def load_study(path: Path) -> StudyDefinition:
    """Read and validate a study file."""
    if not path.is_file():
        raise ConfigError("study file not found", file=str(path))
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML ({exc})", file=str(path)) from exc
    return parse_study(data, path)
