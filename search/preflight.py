"""What a study checks before its first trial: its tasks (split into the search tasks and
the held-out ones), and every fault of configuration that would otherwise fail each
trial in turn: an API key variable that is not set, a replay corpus without a task.
Each is one ConfigError naming the file and the key, and no trial is created.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass

from accord.runners.llm import ModelSpec
from accord.runners.llm.provider import has_list_price
from accord.runners.llm.replay import corpus_path, load_corpus
from accord.runners.tasks.load import Task, load_tasks
from accord.search.studyfile import StudyDefinition
from accord.space import DIMENSIONS, ConfigError, TaskError
from accord.space.config import aliases
from accord.space.spec import SAME_AS_CODER


@dataclass(frozen=True, slots=True)
class TaskSplit:
    search: tuple[Task, ...]
    """What trials run and are scored on."""
    holdout: tuple[Task, ...]
    """What the search never sees: ``accord confirm`` scores configurations on these."""
    left_out: str = ""
    """Which tasks of the source were left out, and why ("" when none was)."""


def _load(
    definition: StudyDefinition, source: str, ids: tuple[str, ...] = (), key: str = "tasks.source"
) -> tuple[Task, ...]:
    try:
        tasks = load_tasks(source, ids=ids, data_dir=definition.data_dir, base_dir=definition.path.parent)
    except TaskError as exc:
        raise ConfigError(str(exc), file=str(definition.path), key=key) from None
    missing = [t.task_id for t in tasks if not t.has_hidden_tests]
    if definition.pass_source == "hidden" and missing:
        raise ConfigError(
            f"pass_rate = 'hidden' but {len(missing)} tasks have no hidden tests (first: {missing[0]}); "
            "use pass_rate = 'alignment'",
            file=str(definition.path),
            key="objectives.pass_rate",
        )
    return tasks


def study_tasks(definition: StudyDefinition) -> TaskSplit:
    """The search tasks and the held-out ones: a share of the source drawn with the study's
    seed (the same split every time), or a separate source."""
    tasks, left_out = covered(definition, _load(definition, definition.task_source, definition.task_ids))
    if definition.holdout_source:
        held = _load(definition, definition.holdout_source, key="tasks.holdout_source")
        overlap = {t.task_id for t in held} & {t.task_id for t in tasks}
        if overlap:
            raise ConfigError(
                f"{len(overlap)} held-out tasks are search tasks too (first: {sorted(overlap)[0]})",
                file=str(definition.path),
                key="tasks.holdout_source",
            )
        held, held_out = covered(definition, held)
        return TaskSplit(search=tasks, holdout=held, left_out="; ".join(filter(None, (left_out, held_out))))
    if definition.holdout is None:
        return TaskSplit(search=tasks, holdout=(), left_out=left_out)
    count = round(definition.holdout * len(tasks))
    if not 1 <= count < len(tasks):
        raise ConfigError(
            f"holding out {definition.holdout:g} of {len(tasks)} tasks leaves {count} held out and "
            f"{len(tasks) - count} to search: each needs at least one",
            file=str(definition.path),
            key="tasks.holdout",
        )
    chosen = set(random.Random(definition.seed or 0).sample(range(len(tasks)), count))
    return TaskSplit(
        search=tuple(t for i, t in enumerate(tasks) if i not in chosen),
        holdout=tuple(t for i, t in enumerate(tasks) if i in chosen),
        left_out=left_out,
    )


def covered(definition: StudyDefinition, tasks: tuple[Task, ...]) -> tuple[tuple[Task, ...], str]:
    """The tasks every replayed model of the space recorded (models may cover different
    task sets: the study runs on what they share), and which were left out, and why."""
    missing: dict[str, list[str]] = {}
    for spec in models_in_use(definition):
        if spec.is_replay:
            rows = load_corpus(corpus_path(spec)).rows
            for task in tasks:
                if task.task_id not in rows:
                    missing.setdefault(task.task_id, []).append(spec.alias)
    if not missing:
        return tasks, ""
    kept = tuple(t for t in tasks if t.task_id not in missing)
    if not kept:
        raise ConfigError(
            f"no task is recorded by every replayed model (first missing: {next(iter(missing))})",
            file=str(definition.path),
            key="tasks.source",
        )
    why = ", ".join(f"{task} (not recorded by {' and '.join(aliases)})" for task, aliases in missing.items())
    return kept, f"{len(missing)} tasks left out: {why}"


def models_in_use(definition: StudyDefinition) -> list[ModelSpec]:
    """The models the space can pick, ensembles taken apart."""
    names: set[str] = set()
    for name, dimension in DIMENSIONS.items():
        if dimension.kind == "model":
            for value in definition.space.values(name):
                names.update(p for p in aliases(value) if p != SAME_AS_CODER)
    return [definition.models[alias] for alias in sorted(names)]


def _unpriced(definition: StudyDefinition, spec: ModelSpec) -> bool:
    """A model a USD study cannot price: no price in the study file, none in litellm's map."""
    if definition.cost_unit != "usd" or spec.priced or spec.is_local:
        return False
    return spec.is_replay or not has_list_price(spec.model)


def preflight(definition: StudyDefinition, split: TaskSplit) -> None:
    """Every configuration fault a trial would hit, before any trial exists."""
    file = str(definition.path)
    for spec in models_in_use(definition):
        if spec.api_key_env and not os.environ.get(spec.api_key_env):
            raise ConfigError(
                f"environment variable {spec.api_key_env} is not set (the API key of {spec.model})",
                file=file,
                key=f"models.{spec.alias}.api_key_env",
            )
        if _unpriced(definition, spec):
            raise ConfigError(
                f"{spec.model} has no known price, so its calls would count as free in a study "
                "whose cost is in USD: set its input_cost_per_token and output_cost_per_token "
                '(or cost = "tokens")',
                file=file,
                key=f"models.{spec.alias}.input_cost_per_token",
            )
    for alias in sorted({a for value in definition.space.values("tester.model") for a in aliases(value)}):
        spec = definition.models[alias]
        recorded = spec.is_replay and load_corpus(corpus_path(spec)).rows.values()
        if recorded and not any(row.get("test_samples") for row in recorded):
            raise ConfigError(
                f"{alias} cannot be a tester: its replay corpus records no test samples",
                file=file,
                key="space.tester.model",
            )
