"""`accord confirm`: the front and the presets, run again on tasks the search never saw.

A winner picked on the tasks it is reported on is optimistic. Confirmation runs the top
of the front and every preset on the held-out tasks, ``repeats`` times with different
samples (draw r asks for other samples of every call, so a lucky draw shows as luck), and
records each as a trial of the sibling study ``<name>.holdout``. It resumes: a trial
already confirmed with as many repeats on the same tasks is not run again.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import optuna
from optuna.artifacts import FileSystemArtifactStore, upload_artifact

from accord.runners.loop.population import TaskOutcome
from accord.runners.run import RunResult, run_config
from accord.runners.runtime import Runtime, open_runtime
from accord.runners.sandbox import Executor
from accord.runners.tasks.load import Task
from accord.search.best import config_from_params
from accord.search.compare import Scored, holdout_name, holdout_trials, scored, usable
from accord.search.preflight import preflight, study_tasks
from accord.search.record import (
    CONFIG_ATTR,
    PAID_ATTR,
    PRESET_ATTR,
    PRESET_MODEL_ATTR,
    SEARCH_TRIAL_ATTR,
    record,
)
from accord.search.stats import bits
from accord.search.study import METRICS, best_trials, open_study, study_storage
from accord.search.studyfile import StudyDefinition
from accord.space import ConfigError

Progress = Callable[[str, int, int], Callable[[TaskOutcome], None]]
"""(what, repeat, tasks) -> a callback per finished task."""


def candidates(study: optuna.Study, top: int) -> list[optuna.trial.FrozenTrial]:
    """The ``top`` best of the front (by pass rate, then cost) and every preset trial."""
    front = sorted(best_trials(study), key=lambda t: (-t.values[0], t.values[1], t.number))[:top]
    presets = [t for t in study.get_trials(deepcopy=False) if usable(t) and record(t).preset]
    chosen = {t.number: t for t in [*front, *presets]}
    return [chosen[n] for n in sorted(chosen)]


def confirm(
    definition: StudyDefinition,
    *,
    storage: str | None = None,
    top: int = 3,
    repeats: int = 1,
    use_cache: bool = True,
    progress: Progress | None = None,
    executor: Executor | None = None,
) -> list[Scored]:
    """Confirm the front and the presets on the held-out tasks; returns them scored."""
    split = study_tasks(definition)
    if not split.holdout:
        raise ConfigError(
            "the study holds no tasks out of the search: set tasks.holdout (a share) or tasks.holdout_source",
            file=str(definition.path),
            key="tasks.holdout",
        )
    preflight(definition, split)
    backend = study_storage(definition, storage)
    study = open_study(definition, backend, create=False)
    held = optuna.create_study(
        study_name=holdout_name(definition.name),
        storage=backend,
        directions=["maximize", "minimize"],
        load_if_exists=True,
    )
    with warnings.catch_warnings():  # experimental in Optuna 5.0, and stable enough for us
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        held.set_metric_names(list(METRICS))
    definition.artifact_dir.mkdir(parents=True, exist_ok=True)
    artifacts = FileSystemArtifactStore(str(definition.artifact_dir))
    chosen = candidates(study, top)
    done = holdout_trials(backend, definition.name)
    use = definition.cache and use_cache
    with open_runtime(
        definition.models, use_cache=use, sandbox_workers=definition.sandbox_workers, executor=executor
    ) as runtime:
        for trial in chosen:
            earlier = done.get(trial.number)
            if (
                earlier is not None
                and earlier.user_attrs.get("repeats", 0) >= repeats
                and earlier.user_attrs.get("tasks") == len(split.holdout)
            ):
                continue
            results = _run_held_out(definition, split.holdout, trial, runtime, repeats, progress)
            _record(held, trial, results, artifacts)
    return scored(chosen, holdout_trials(backend, definition.name))


def _run_held_out(
    definition: StudyDefinition,
    tasks: Sequence[Task],
    trial: optuna.trial.FrozenTrial,
    runtime: Runtime,
    repeats: int,
    progress: Progress | None,
) -> list[RunResult]:
    """One configuration on the held-out tasks, ``repeats`` draws."""
    config = config_from_params(trial.params, definition.settings)
    results: list[RunResult] = []
    for draw in range(repeats):
        ctx = definition.loop_context(runtime.gateway, runtime.executor, draw=draw)
        on_task = progress(f"trial {trial.number}", draw, len(tasks)) if progress else None
        results.append(run_config(tasks, config, ctx, pass_source=definition.pass_source, on_task=on_task))
    return results


def _record(
    held: optuna.Study,
    trial: optuna.trial.FrozenTrial,
    results: list[RunResult],
    artifacts: FileSystemArtifactStore,
) -> None:
    rates = [r.pass_rate for r in results]
    attrs = {
        SEARCH_TRIAL_ATTR: trial.number,
        "repeats": len(results),
        "rates": ",".join(f"{r:.3f}" for r in rates),
        "rate_stdev": round(statistics.pstdev(rates), 4),
        "passed_tasks": bits(results[0].passed),
        "tasks": results[0].n_tasks,
        CONFIG_ATTR: record(trial).config,
        "spent_usd": sum(r.meter.spent_usd for r in results),
        PAID_ATTR: sum(r.meter.paid for r in results),
    }
    for key in (PRESET_ATTR, PRESET_MODEL_ATTR):
        if key in trial.user_attrs:
            attrs[key] = trial.user_attrs[key]
    frozen = optuna.trial.create_trial(
        params=trial.params,
        distributions=trial.distributions,
        values=[statistics.fmean(rates), statistics.fmean(r.cost for r in results)],
        user_attrs=attrs,
    )
    held.add_trial(frozen)
    # a finished trial takes no artifact: the held-out study holds them, one per trial
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"holdout-trial-{trial.number}.json"
        rows = [
            {
                "draw": draw,
                "task_id": o.task_id,
                "hidden_passed": o.hidden_passed,
                "aligned": o.aligned,
                "code": o.code,
            }
            for draw, result in enumerate(results)
            for o in result.outcomes
        ]
        path.write_text(json.dumps(rows, indent=1))
        upload_artifact(artifact_store=artifacts, file_path=str(path), study_or_trial=held)
