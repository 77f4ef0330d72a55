"""Every use of Optuna beyond its user API, in one place.

accord needs four things Optuna offers no public call for:
- a SQLite storage whose trial claims and study creation hold accord's file lock
  (a subclass of ``RDBStorage`` overriding two of its methods);
- setting a user attribute on a trial this process did not ask for (a dead worker's
  trial, failed by the sweep), through the storage's own methods;
- closing a storage's database connections at the end of a run;
- telling Optuna's "Trial N failed with ..." log records apart from its other warnings,
  to print a failed trial as one line instead of a traceback.

``tests/search/test_optuna_adapter.py`` pins each against the installed version: when an
Optuna upgrade changes one, that test fails, and this module is the one to change.
"""

from __future__ import annotations

import logging
import weakref
from pathlib import Path
from typing import Any, TypeVar

import optuna

from accord.search.locks import file_lock

S = TypeVar("S", bound=optuna.storages.BaseStorage)


class LockedRDBStorage(optuna.storages.RDBStorage):
    """SQLite through Optuna's RDB storage, with a trial's claim made under the file lock:
    SQLite's transactions let two processes both read a WAITING trial and both start it."""

    def __init__(self, url: str, lock: Path, **kwargs: Any) -> None:
        self._lock_file = lock
        with file_lock(lock):  # creating the schema twice at once fails on alembic_version
            super().__init__(url, **kwargs)

    def set_trial_state_values(
        self, trial_id: int, state: optuna.trial.TrialState, values: Any = None
    ) -> bool:
        with file_lock(self._lock_file):
            return bool(super().set_trial_state_values(trial_id, state, values))

    def create_new_study(self, directions: Any, study_name: str | None = None) -> int:
        with file_lock(self._lock_file):
            return int(super().create_new_study(directions, study_name))


def set_trial_attr(
    storage: optuna.storages.BaseStorage, study: optuna.Study, number: int, key: str, value: Any
) -> None:
    """Set user attribute ``key`` of trial ``number`` of ``study`` (any state but
    finished; a finished trial raises ``UpdateFinishedTrialError``)."""
    study_id = storage.get_study_id_from_name(study.study_name)
    trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, number)
    storage.set_trial_user_attr(trial_id, key, value)


_opened: weakref.WeakSet[optuna.storages.BaseStorage] = weakref.WeakSet()


def opened(storage: S) -> S:
    """``storage``, to be closed by ``close_storages``."""
    _opened.add(storage)
    return storage


def close_storages() -> None:
    """Close the database connections of every storage this process opened (an RDB
    storage's engine pool: SQLite files and PostgreSQL sessions; a journal file holds
    none open between calls). A storage used again afterwards opens a new connection."""
    for storage in list(_opened):
        if isinstance(storage, optuna.storages.RDBStorage):
            storage.engine.dispose()


_FAILED_TRIAL_LOGGER = "optuna.study._optimize"
_FAILED_TRIAL_FUNCTION = "_log_failed_trial"


def _not_a_failed_trial(record: logging.LogRecord) -> bool:
    """False for the two records Optuna logs for a trial whose objective raised (the first
    carries the whole traceback)."""
    return record.funcName != _FAILED_TRIAL_FUNCTION


def show_failed_trials(show: bool) -> None:
    """Let Optuna log a failed trial (its parameters and traceback), or not: accord's run
    prints a failed trial in one line of its own. The filter sits on the logger that
    writes those records (a filter on a parent logger never sees them)."""
    logger = logging.getLogger(_FAILED_TRIAL_LOGGER)
    if show:
        logger.removeFilter(_not_a_failed_trial)
    elif _not_a_failed_trial not in logger.filters:
        logger.addFilter(_not_a_failed_trial)
