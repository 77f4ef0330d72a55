"""Opening, resuming and running studies.

Storages: SQLite (``sqlite:///path``, one machine), Optuna's journal file
(``journal:///path``, one machine, many processes) and PostgreSQL
(``postgresql+psycopg2://...``, many machines). Every trial records the worker running
it (``host:pid``). On PostgreSQL a worker also sends heartbeats, so a trial whose worker
died is failed by the next worker and retried with the same parameters; on the other
storages ``sweep_stale`` does that at the start of the next ``accord run``, for trials
whose worker process on this machine is gone.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import socket
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import optuna
import sqlalchemy.exc
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.storages.journal import JournalFileBackend

from accord.search.locks import JOURNAL, POSTGRESQL, SQLITE, lock_path
from accord.search.optuna_adapter import LockedRDBStorage, opened, set_trial_attr
from accord.search.record import (
    PRESET_ATTR,
    PRESET_MODEL_ATTR,
    REPEAT_ATTR,
    RETRY_ATTR,
    STOPPED_ATTR,
    WORKER_ATTR,
    record,
)
from accord.search.stats import Rate, unbits
from accord.search.studyfile import StudyDefinition
from accord.space import AccordError, ConfigError

log = logging.getLogger(__name__)

METRICS = ("pass_rate", "cost")

HEARTBEAT_S = 20
GRACE_S = 60
MAX_RETRY = 2


def described(trial: optuna.trial.FrozenTrial) -> str:
    """A trial's configuration in words, and for a cascade, where its tasks stopped."""
    about = record(trial)
    return f"{about.config}. Cascade: {about.cascade}" if about.cascade else about.config


def _gp(seed: int | None) -> optuna.samplers.BaseSampler:
    missing = [name for name in ("torch", "scipy") if importlib.util.find_spec(name) is None]
    if missing:
        raise ConfigError(
            f"sampler 'gp' needs torch and scipy ({missing[0]} is not installed): "
            "pip install torch scipy, or use tpe, nsga2 or random",
            key="study.sampler",
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.GPSampler(seed=seed)


def _tpe(seed: int | None) -> optuna.samplers.BaseSampler:
    with warnings.catch_warnings():  # group and constant_liar are experimental in optuna 5
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True, constant_liar=True)


SAMPLER_FACTORIES: Mapping[str, Callable[[int | None], optuna.samplers.BaseSampler]] = {
    "tpe": _tpe,
    "nsga2": lambda seed: optuna.samplers.NSGAIISampler(seed=seed),
    "gp": _gp,
    "random": lambda seed: optuna.samplers.RandomSampler(seed=seed),
}
"""TPE is multivariate and grouped (conditional spaces) with a constant liar, so parallel
workers do not all sample the same point."""


def make_storage(url: str) -> optuna.storages.BaseStorage:
    """The Optuna storage a URL names; one that cannot be opened is a ConfigError."""
    try:
        return opened(_storage(url))
    except ConfigError:
        raise
    except (OSError, sqlalchemy.exc.SQLAlchemyError, ValueError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise ConfigError(f"cannot open {url}: {reason}", key="study.storage") from None


def study_storage(definition: StudyDefinition, url: str | None = None) -> optuna.storages.BaseStorage:
    """The study's storage (``url`` overrides the file's); a fault names the study file."""
    try:
        return make_storage(url or definition.storage)
    except ConfigError as exc:
        raise ConfigError(
            str(exc).removeprefix("study.storage: "), file=str(definition.path), key="study.storage"
        ) from None


def _storage(url: str) -> optuna.storages.BaseStorage:
    if url.startswith(JOURNAL):
        path = Path(url.removeprefix(JOURNAL))
        path.parent.mkdir(parents=True, exist_ok=True)
        return optuna.storages.JournalStorage(JournalFileBackend(str(path)))
    if url.startswith(SQLITE):
        Path(url.removeprefix(SQLITE)).parent.mkdir(parents=True, exist_ok=True)
        # several local workers share the file: wait for the lock instead of failing
        lock = lock_path(url)
        assert lock is not None
        return LockedRDBStorage(url, lock, engine_kwargs={"connect_args": {"timeout": 60}})
    if url.startswith(POSTGRESQL):
        return _postgres(url)
    raise ConfigError(
        f"unsupported storage {url!r}: use sqlite:///PATH, journal:///PATH or postgresql+psycopg2://...",
        key="study.storage",
    )


SCHEMA_TRIES = 5


def _postgres(url: str) -> optuna.storages.BaseStorage:
    """Optuna's RDB storage on PostgreSQL, with heartbeats. Workers on several machines may
    create the schema at once; the loser of that race (a duplicate key in PostgreSQL's
    catalog, or a table that already exists) tries again, and then finds the tables made."""
    for attempt in range(SCHEMA_TRIES):
        try:
            with warnings.catch_warnings():  # heartbeats are experimental in optuna 5
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(
                    url,
                    heartbeat_interval=HEARTBEAT_S,
                    grace_period=GRACE_S,
                    heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY),
                )
        except sqlalchemy.exc.SQLAlchemyError as exc:
            racing = "duplicate key" in str(exc) or "already exists" in str(exc)
            if not racing or attempt == SCHEMA_TRIES - 1:
                raise
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive_here(worker: str) -> bool:
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True  # another machine's worker: not ours to judge
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text()
    return b"accord" in cmdline and stat.split(")")[1].split()[0] != "Z"


def sweep_stale(study: optuna.Study, storage: optuna.storages.BaseStorage) -> list[int]:
    """Fail the RUNNING trials whose worker on this machine is gone, and enqueue each once
    more with the same params (the response cache makes the retry cheap). Returns the
    numbers of the trials failed. ``storage`` is the study's own storage object."""
    failed = []
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        worker = trial.user_attrs.get(WORKER_ATTR)
        if worker is None or _alive_here(str(worker)):
            continue
        try:
            set_trial_attr(storage, study, trial.number, STOPPED_ATTR, f"worker {worker} died")
            study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
        except (ValueError, optuna.exceptions.UpdateFinishedTrialError):
            continue  # another process finished or failed it first
        failed.append(trial.number)
        retries = sum(
            1 for t in study.get_trials(deepcopy=False) if t.user_attrs.get(RETRY_ATTR) == trial.number
        )
        if retries < MAX_RETRY:
            attrs = {RETRY_ATTR: trial.number}
            for key in (PRESET_ATTR, PRESET_MODEL_ATTR):
                if key in trial.user_attrs:
                    attrs[key] = trial.user_attrs[key]
            study.enqueue_trial(dict(trial.params), user_attrs=attrs)
    return failed


def open_study(
    definition: StudyDefinition,
    storage: str | optuna.storages.BaseStorage | None = None,
    *,
    create: bool = True,
) -> optuna.Study:
    """The study named in the definition, created on first use and resumed afterwards."""
    url = storage if isinstance(storage, optuna.storages.BaseStorage) else study_storage(definition, storage)
    sampler = SAMPLER_FACTORIES[definition.sampler](definition.seed)
    if not create:
        return optuna.load_study(study_name=definition.name, storage=url, sampler=sampler)
    study = optuna.create_study(
        study_name=definition.name,
        storage=url,
        sampler=sampler,
        directions=["maximize", "minimize"],
        load_if_exists=True,
    )
    if list(study.directions) != [
        optuna.study.StudyDirection.MAXIMIZE,
        optuna.study.StudyDirection.MINIMIZE,
    ]:
        raise AccordError(
            f"study {definition.name} exists in {definition.storage} with other directions: "
            "give this study another name (study.name)"
        )
    if study.metric_names != list(METRICS):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names(list(METRICS))
    return study


def enqueue_presets(study: optuna.Study, definition: StudyDefinition) -> list[str]:
    """Enqueue each preset once per coder model: one already tried or waiting is skipped.
    Returns "name/model" of those queued now."""
    enqueued = []
    done = {
        (t.user_attrs.get(PRESET_ATTR), t.user_attrs.get(PRESET_MODEL_ATTR))
        for t in study.get_trials(deepcopy=False)
    }
    for preset in definition.preset_trials:
        if (preset.name, preset.model) not in done:
            attrs = {PRESET_ATTR: preset.name, PRESET_MODEL_ATTR: preset.model}
            study.enqueue_trial(dict(preset.params), user_attrs=attrs)
            enqueued.append(f"{preset.name}/{preset.model}")
    return enqueued


def passed_vector(trial: optuna.trial.FrozenTrial) -> list[bool] | None:
    """Per task, whether the trial passed it (None: not recorded)."""
    text = trial.user_attrs.get("passed_tasks")
    return unbits(text) if isinstance(text, str) and text else None


def rate(trial: optuna.trial.FrozenTrial) -> Rate | None:
    """The trial's pass rate as passed tasks out of n (None: no value yet)."""
    vector = passed_vector(trial)
    if vector is not None:
        return Rate(sum(vector), len(vector))
    if not trial.values:
        return None
    n = int(trial.user_attrs.get("tasks") or 0)
    return Rate(round(trial.values[0] * n), n) if n else None


def trial_rows(study: optuna.Study) -> list[dict[str, Any]]:
    """Every trial as a plain dict (for `accord show --json` and the table)."""
    pareto = {t.number for t in best_trials(study)}
    rows = []
    for trial in study.get_trials(deepcopy=False):
        values = trial.values or [None, None]
        rows.append(
            {
                "number": trial.number,
                "state": shown_state(trial),
                "pass_rate": values[0],
                "rate": rate(trial),
                "cost": values[1],
                "pareto": trial.number in pareto,
                PRESET_ATTR: record(trial).preset,
                PRESET_MODEL_ATTR: record(trial).preset_model,
                "params": dict(trial.params),
                "user_attrs": dict(trial.user_attrs),
            }
        )
    return rows


def shown_state(trial: optuna.trial.FrozenTrial) -> str:
    """Optuna's state, or STOPPED (cut short: by a budget, or raced) or REPEAT (a proposal
    of a configuration another trial had run: not run again, its figures copied)."""
    if REPEAT_ATTR in trial.user_attrs:
        return "REPEAT"
    if trial.state == optuna.trial.TrialState.COMPLETE and record(trial).stopped:
        return "STOPPED"
    return trial.state.name


def measured(trials: Sequence[optuna.trial.FrozenTrial]) -> list[optuna.trial.FrozenTrial]:
    """The trials that ran: not repeats of a configuration another trial had measured."""
    return [t for t in trials if REPEAT_ATTR not in t.user_attrs]


def best_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The feasible Pareto front, cheapest first (a repeat stands behind its original)."""
    try:
        front = [t for t in study.best_trials if REPEAT_ATTR not in t.user_attrs]
    except ValueError:
        return []
    return sorted(front, key=lambda t: (t.values[1], -t.values[0], t.number))


def study_cost(study: optuna.Study) -> float:
    """What the study's trials have spent in its cost unit, failed ones and measurement
    included (trials from before spend was recorded count their cost objective)."""
    total = 0.0
    for trial in study.get_trials(deepcopy=False):
        spend = record(trial).spend
        if spend is not None:
            total += float(spend)
        elif trial.state == optuna.trial.TrialState.COMPLETE and trial.values:
            total += trial.values[1]
    return total


def remaining_budget(study: optuna.Study, definition: StudyDefinition) -> float | None:
    """What is left of the study's cost cap (None: no cap)."""
    if definition.max_total_cost is None:
        return None
    return definition.max_total_cost - study_cost(study)
