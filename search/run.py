"""Running a study: ``run_study`` adds trials to a study, in this process or in local
worker processes, and tells a Reporter how it goes. The CLI only parses and prints."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import optuna
from optuna.artifacts import FileSystemArtifactStore

from accord.runners.loop.population import TaskOutcome
from accord.runners.runtime import open_runtime
from accord.runners.sandbox import Executor
from accord.runners.tasks.load import Task
from accord.search.locks import file_lock, lock_path
from accord.search.objective import Objective
from accord.search.preflight import preflight, study_tasks
from accord.search.study import (
    REPEAT_ATTR,
    enqueue_presets,
    open_study,
    remaining_budget,
    study_storage,
    sweep_stale,
)
from accord.search.studyfile import StudyDefinition
from accord.space import TRIAL_FAULTS, AccordError

MAX_REPEATS_IN_A_ROW = 20
"""Proposals of configurations already run, in a row, after which a run stops."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RunOptions:
    n_trials: int | None = None
    """Trials to add (default: the study's budget.n_trials)."""
    storage: str | None = None
    """Storage URL (default: the study file's)."""
    workers: int = 1
    use_cache: bool = True
    as_worker: bool = False
    """This process is one of ``workers``: the parent created the study and queued presets."""
    executor: Executor | None = None
    """A sandbox to share (its results cache spans the runs that share it): a benchmark
    running several studies in one process passes one; default: one per run."""
    on_repeat: str = "reuse"
    """A proposal of a configuration already run: "reuse" its figures (a REPEAT trial, free,
    not counted) or "resample" (pruned, so the sampler asks again); benchmarks/repeats.py."""


class Reporter(Protocol):
    """What a run tells the user; the CLI draws it as progress bars and lines."""

    def notice(self, message: str) -> None: ...
    def trials(self, total: int) -> None: ...
    def trial_tasks(self, number: int, total: int) -> Callable[[TaskOutcome], None]: ...
    def trial_done(self, trial: optuna.trial.FrozenTrial, unit: str) -> None: ...


WAITING = optuna.trial.TrialState.WAITING


def run_study(definition: StudyDefinition, options: RunOptions, reporter: Reporter) -> optuna.Study:
    """Add ``options.n_trials`` trials to the study (creating it on first use) and return it.
    Configuration faults stop it before any trial exists."""
    split = study_tasks(definition)
    preflight(definition, split)
    if split.left_out and not options.as_worker:
        reporter.notice(f"study {definition.name}: {split.left_out}")
    tasks = split.search
    n_trials = options.n_trials or definition.n_trials
    storage = options.storage or definition.storage
    backend = study_storage(definition, storage)
    # two runs started at once: one creates the study and queues its presets, the other
    # then finds them (file storages; PostgreSQL relies on its own locks)
    with file_lock(lock_path(storage)):
        study = open_study(definition, backend)
        left = remaining_budget(study, definition)
        setup = not options.as_worker and (left is None or left > 0)
        swept = sweep_stale(study, backend) if setup else []
        enqueued = enqueue_presets(study, definition) if setup else []
    if left is not None and left <= 0:
        reporter.notice(
            f"study {definition.name} has spent its budget ({definition.max_total_cost:g} "
            f"{definition.cost_unit}, budget.max_total_cost); raise it to run more trials"
        )
        return study
    if not options.as_worker:
        if swept:
            reporter.notice(
                f"trials {', '.join(map(str, swept))} were left RUNNING by a worker that died: "
                "marked FAIL and queued again"
            )
        started = sum(t.state != WAITING for t in study.trials)
        reporter.notice(
            f"study {definition.name}: {started} trials so far, running {n_trials} more "
            f"on {len(tasks)} tasks ({len(split.holdout)} more held out) with {options.workers} "
            f"worker{'s' * (options.workers > 1)} "
            f"({', '.join(enqueued) or 'no'} presets newly queued)"
        )
    if options.workers > 1:
        run_workers(definition, options, storage, n_trials)
        return study
    _optimize(study, definition, tasks, options, n_trials, reporter)
    return study


def _optimize(
    study: optuna.Study,
    definition: StudyDefinition,
    tasks: tuple[Task, ...],
    options: RunOptions,
    n_trials: int,
    reporter: Reporter,
) -> None:
    definition.artifact_dir.mkdir(parents=True, exist_ok=True)
    artifacts = FileSystemArtifactStore(str(definition.artifact_dir))
    reporter.trials(n_trials)
    counted = {"run": 0, "repeats_in_a_row": 0}

    def after_trial(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        reporter.trial_done(trial, definition.cost_unit)
        repeat = REPEAT_ATTR in trial.user_attrs
        counted["run"] += not repeat  # a repeat measured nothing new: it does not count
        counted["repeats_in_a_row"] = counted["repeats_in_a_row"] + 1 if repeat else 0
        left = remaining_budget(study, definition)
        if left is not None and left <= 0:
            reporter.notice(f"study cost cap of {definition.max_total_cost:g} {definition.cost_unit} reached")
            study.stop()
        elif counted["run"] >= n_trials:
            study.stop()
        elif counted["repeats_in_a_row"] >= MAX_REPEATS_IN_A_ROW:
            reporter.notice(
                f"the sampler proposed {MAX_REPEATS_IN_A_ROW} configurations in a row that had run already: "
                "the space looks exhausted, or the sampler has converged; widen the space, or use "
                'sampler = "random", to search further'
            )
            study.stop()

    use_cache = definition.cache and options.use_cache
    with open_runtime(
        definition.models,
        use_cache=use_cache,
        sandbox_workers=definition.sandbox_workers,
        executor=options.executor,
    ) as runtime:
        objective = Objective(
            definition,
            tasks,
            runtime.gateway,
            runtime.executor,
            artifacts=artifacts,
            on_task_factory=lambda number: reporter.trial_tasks(number, len(tasks)),
            on_repeat=options.on_repeat,
        )
        study.optimize(
            objective,
            n_trials=None,  # after_trial stops once n_trials have run (repeats are free)
            timeout=definition.timeout_s,
            catch=TRIAL_FAULTS,
            callbacks=[after_trial],
        )


def run_workers(definition: StudyDefinition, options: RunOptions, storage: str, n_trials: int) -> None:
    """Run the trials in ``options.workers`` processes on the same storage; the study
    exists and its presets are queued before they start."""
    workers = options.workers
    shares = [n_trials // workers + (i < n_trials % workers) for i in range(workers)]
    command = [sys.executable, "-m", "accord.search.cli", "run", str(definition.path)]
    command += ["--storage", storage, "--as-worker"]
    if not options.use_cache:
        command.append("--no-cache")
    if definition.data_dir:
        command += ["--data-dir", str(definition.data_dir)]
    procs = [subprocess.Popen([*command, "--n-trials", str(n)]) for n in shares if n]
    try:
        codes = [proc.wait() for proc in procs]
    except KeyboardInterrupt:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait()
        raise
    failed = [c for c in codes if c != 0]
    if failed:
        raise AccordError(f"{len(failed)} of {len(procs)} workers failed (exit {failed[0]})")
