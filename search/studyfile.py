"""Study files (TOML) loaded into a frozen StudyDefinition.

Every key is checked: an unknown key, a wrong type or an impossible value raises a
ConfigError naming the file and the dotted key, never a traceback.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from accord.runners.llm import Gateway, Meter, ModelSpec
from accord.runners.llm.meter import COST_UNITS as METER_UNITS
from accord.runners.loop.members import HIDDEN_TIMEOUT_S, TASKS_IN_FLIGHT, LoopContext
from accord.runners.loop.transcript import NullTranscript, Transcript
from accord.runners.run import PASS_SOURCES
from accord.runners.sandbox import SANDBOX_WORKERS, Executor
from accord.search.locks import JOURNAL, POSTGRESQL, SQLITE
from accord.search.reader import (
    Check,
    TableReader,
    between,
    default,
    positive,
    positive_at_most,
    read_models,
    read_toml,
)
from accord.space import PRESETS, ConfigError, PresetTrial, PromptLibrary, RunConfig, SpaceSpec, parse_space
from accord.space.config import aliases
from accord.space.presets import preset_trials

SAMPLERS = ("tpe", "nsga2", "gp", "random")
COST_UNITS = tuple(METER_UNITS)
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
MAX_TRIALS = 100_000
LOOP_SETTINGS: Mapping[str, tuple[type, Check]] = {
    "max_tokens": (int, between(1, 131072)),
    "min_asserts": (int, between(1, 100)),
    "max_asserts": (int, between(1, 1000)),
    "test_timeout_s": (float, positive_at_most(600.0)),
}
"""The [loop] table: fixed RunConfig fields, the same for every trial, with their bounds."""


RUNGS = (0.1, 0.3)
RACING_TESTS = ("paired", "interval")
CONFIDENCE = 0.95


@dataclass(frozen=True, slots=True, kw_only=True)
class Racing:
    """[budget] racing: stop trials that cannot reach the front (search/racing.py)."""

    rungs: tuple[float, ...] = RUNGS
    """Shares of the tasks after which a trial may stop (the last rung is all of them)."""
    confidence: float = CONFIDENCE
    """That a stopped trial could not have reached the front (search/racing.py)."""
    test: str = "paired"
    """"paired": a sign test against each front trial on the same tasks; "interval": the
    upper end of the trial's own Wilson interval against the front's rates."""


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
    """Cap on the study's summed cost objective, failed trials' spend included (cache hits
    count: the cap is conservative)."""
    timeout_s: float | None
    models: Mapping[str, ModelSpec]
    space: SpaceSpec
    settings: Mapping[str, Any]
    """Fixed loop settings (max_tokens, min/max_asserts, test_timeout_s) for every trial."""
    hidden_timeout_s: float = HIDDEN_TIMEOUT_S
    """Time-out of one task's hidden-test check."""
    prompts: PromptLibrary
    cache: bool
    preset_trials: tuple[PresetTrial, ...] = ()
    """Every preset once per coder model (or per ``study.preset_models``)."""
    holdout: float | None = None
    """Share of the task set held out of the search (a split seeded by study.seed)."""
    holdout_source: str | None = None
    """A separate task source held out of the search."""
    racing: Racing | None = None
    """Stop trials that cannot reach the front (None: every trial runs every task)."""
    tasks_in_flight: int = TASKS_IN_FLIGHT
    """A trial's tasks run side by side (the models' limits bound the calls)."""
    sandbox_workers: int = SANDBOX_WORKERS
    """Sandbox worker processes (each runs one job at a time)."""

    def loop_context(
        self,
        gateway: Gateway,
        executor: Executor,
        *,
        meter: Meter | None = None,
        transcript: Transcript | None = None,
        draw: int = 0,
    ) -> LoopContext:
        """What this study's loops run with: its prompts, time-outs and tasks in flight, a
        meter in its cost unit (a fresh one unless given)."""
        return LoopContext(
            gateway=gateway,
            executor=executor,
            prompts=self.prompts,
            meter=meter if meter is not None else Meter(unit=self.cost_unit),
            transcript=transcript if transcript is not None else NullTranscript(),
            hidden_timeout_s=self.hidden_timeout_s,
            draw=draw,
            tasks_in_flight=self.tasks_in_flight,
        )


STORAGE_PREFIXES = (SQLITE, JOURNAL, POSTGRESQL)


def _study_table(root: TableReader, path: Path) -> dict[str, Any]:
    study = root.sub("study")
    name = study.get(
        "name",
        str,
        path.stem,
        check=lambda v: (
            None
            if SAFE_NAME.match(v)
            else "a study name is a file name: letters, digits, '.', '_' and '-', at most 100"
        ),
    )
    runs = path.parent / "runs"
    storage = study.get(
        "storage",
        str,
        f"{SQLITE}{(runs / f'{name}.db').resolve()}",
        check=lambda v: (
            None
            if v.startswith(STORAGE_PREFIXES)
            else "unsupported storage: use sqlite:///PATH, journal:///PATH or postgresql+psycopg2://..."
        ),
    )
    values = {
        "name": name,
        "storage": storage,
        "artifact_dir": runs / f"{name}-artifacts",
        "sampler": study.choice("sampler", SAMPLERS, "tpe"),
        "seed": study.get("seed", int, check=between(0, 2**32 - 1)),
        "presets": study.strings("presets"),
    }
    for preset in values["presets"]:
        if preset not in PRESETS:
            raise study.fail("presets", f"unknown preset {preset!r} (known: {', '.join(PRESETS)})")
    values["preset_models"] = study.strings("preset_models")
    study.done()
    return values


def _tasks_table(root: TableReader, path: Path) -> dict[str, Any]:
    tasks = root.sub("tasks")
    source = tasks.get("source", str)
    if not source:
        raise tasks.fail("source", "required: humaneval, humaneval[:5], humanevalplus, mbpp or a .jsonl path")
    data_dir = tasks.get("data_dir", str)
    values = {
        "task_source": source,
        "task_ids": tasks.strings("ids"),
        "data_dir": (path.parent / data_dir).resolve() if data_dir else None,
        "hidden_timeout_s": tasks.get(
            "hidden_timeout_s", float, HIDDEN_TIMEOUT_S, check=positive_at_most(3600.0)
        ),
        "holdout": tasks.get(
            "holdout", float, check=lambda v: None if 0 < v < 1 else "a share: between 0 and 1"
        ),
        "holdout_source": tasks.get("holdout_source", str),
    }
    if values["holdout"] is not None and values["holdout_source"]:
        raise tasks.fail("holdout_source", "give holdout (a share of source) or holdout_source, not both")
    tasks.done()
    return values


def _racing(budget: TableReader) -> Racing | None:
    rungs = budget.get("rungs", list, list(RUNGS))
    if not all(isinstance(r, int | float) and not isinstance(r, bool) and 0 < r < 1 for r in rungs):
        raise budget.fail("rungs", "a list of shares of the tasks, each between 0 and 1")
    confidence = budget.get(
        "racing_confidence", float, CONFIDENCE, check=lambda v: None if 0.5 <= v < 1 else "between 0.5 and 1"
    )
    test = budget.choice("racing_test", RACING_TESTS, "paired")
    enabled = budget.get("racing", bool, False)
    return Racing(rungs=tuple(float(r) for r in rungs), confidence=confidence, test=test) if enabled else None


def _objectives_table(root: TableReader) -> dict[str, Any]:
    objectives = root.sub("objectives")
    values = {
        "pass_source": objectives.choice("pass_rate", PASS_SOURCES, "hidden"),
        "cost_unit": objectives.choice("cost", COST_UNITS, "usd"),
    }
    objectives.done()
    return values


def _budget_table(root: TableReader) -> dict[str, Any]:
    budget = root.sub("budget")
    values = {
        "n_trials": budget.get("n_trials", int, 10, check=between(1, MAX_TRIALS)),
        "max_cost_per_trial": budget.get("max_cost_per_trial", float, check=positive),
        "max_total_cost": budget.get("max_total_cost", float, check=positive),
        "timeout_s": budget.get("timeout_s", float, check=positive),
        "racing": _racing(budget),
    }
    budget.done()
    return values


def _execution_table(root: TableReader) -> dict[str, Any]:
    execution = root.sub("execution")
    values = {
        "tasks_in_flight": execution.get("tasks_in_flight", int, TASKS_IN_FLIGHT, check=between(1, 1024)),
        "sandbox_workers": execution.get("sandbox_workers", int, SANDBOX_WORKERS, check=between(1, 16)),
    }
    execution.done()
    return values


def _prompts_table(root: TableReader, path: Path) -> PromptLibrary:
    prompts = root.sub("prompts")
    dirs = tuple((path.parent / d).resolve() for d in prompts.strings("dirs"))
    prompts.done()
    try:
        return PromptLibrary.load(dirs)
    except ConfigError as exc:
        raise ConfigError(
            str(exc).removeprefix("prompts.dirs: "), file=str(path), key="prompts.dirs"
        ) from None


def _loop_table(root: TableReader) -> dict[str, Any]:
    loop = root.sub("loop")
    settings = read_loop_settings(loop)
    loop.done()
    return settings


def read_loop_settings(table: TableReader) -> dict[str, Any]:
    """The fixed RunConfig fields of a [loop] table (a study file's or an export's)."""
    settings = {
        name: table.get(name, kind, default(RunConfig, name), check=check)
        for name, (kind, check) in LOOP_SETTINGS.items()
    }
    if settings["min_asserts"] > settings["max_asserts"]:
        raise table.fail("max_asserts", f"must be at least min_asserts ({settings['min_asserts']})")
    return settings


def _cache_table(root: TableReader) -> bool:
    cache = root.sub("cache")
    enabled: bool = cache.get("enabled", bool, True)
    cache.done()
    return enabled


def parse_study(data: Mapping[str, Any], path: Path) -> StudyDefinition:
    file = str(path)
    root = TableReader(file, "", dict(data))
    study = _study_table(root, path)
    tasks = _tasks_table(root, path)
    scalars = {**_objectives_table(root), **_budget_table(root), **_execution_table(root)}
    models = read_models(file, root.sub("models").table, base=path.parent)
    prompts = _prompts_table(root, path)
    settings = _loop_table(root)
    cache = _cache_table(root)
    space = parse_space(root.get("space", dict, {}), models=tuple(models), prompts=prompts, file=file)
    _check_askable(space, models, file)
    root.done()
    presets = preset_trials(study["presets"], space, models=study.pop("preset_models"), file=file)
    return StudyDefinition(
        path=path, **study, **tasks, **scalars, models=models, space=space, settings=settings,
        prompts=prompts, cache=cache, preset_trials=presets,
    )  # fmt: skip


def _check_askable(space: SpaceSpec, models: Mapping[str, ModelSpec], file: str) -> None:
    """Distinguishing inputs ask the tester and the planner (or the coder) prompts no
    replayed corpus recorded: a space that allows them needs models that can answer."""
    if not space.contains("selection.distinguish", True):
        return
    asked = {
        alias
        for dimension in ("coder.model", "tester.model", "planner.model")
        for value in space.values(dimension)
        for alias in aliases(value)
    }
    replayed = sorted(alias for alias in asked if alias in models and models[alias].is_replay)
    if replayed:
        raise ConfigError(
            f"distinguishing inputs are unavailable on replayed models ({', '.join(replayed)}): "
            "a recorded corpus answers only the prompts it recorded; set it to false",
            file=file,
            key="space.selection.distinguish",
        )


def load_study(path: Path) -> StudyDefinition:
    """Read and validate a study file."""
    return parse_study(read_toml(path, "study file"), path)
