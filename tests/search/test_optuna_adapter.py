"""Pins what search/optuna_adapter.py assumes of the installed Optuna: each test fails when
an upgrade changes a behaviour accord relies on beyond Optuna's user API."""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest

from accord.search.optuna_adapter import (
    LockedRDBStorage,
    close_storages,
    opened,
    set_trial_attr,
    show_failed_trials,
)


def test_the_locked_storage_overrides_methods_optuna_still_has_with_the_same_parameters() -> None:
    for name in ("set_trial_state_values", "create_new_study"):
        ours = inspect.signature(getattr(LockedRDBStorage, name)).parameters
        theirs = inspect.signature(getattr(optuna.storages.RDBStorage, name)).parameters
        assert list(ours) == list(theirs), name


def test_the_locked_storage_claims_a_waiting_trial_through_its_override(tmp_path: Path) -> None:
    """A trial's claim must go through ``set_trial_state_values``, or the lock guards nothing."""
    claims: list[optuna.trial.TrialState] = []

    class Counting(LockedRDBStorage):
        def set_trial_state_values(self, trial_id, state, values=None):  # type: ignore[no-untyped-def]
            claims.append(state)
            return super().set_trial_state_values(trial_id, state, values)

    storage = Counting(f"sqlite:///{tmp_path / 's.db'}", tmp_path / "s.lock")
    study = optuna.create_study(storage=storage)
    study.enqueue_trial({"x": 1.0})
    study.optimize(lambda t: t.suggest_float("x", 0, 2), n_trials=1)
    assert optuna.trial.TrialState.RUNNING in claims and optuna.trial.TrialState.COMPLETE in claims


def test_an_attribute_can_be_set_on_a_trial_another_storage_object_started(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    study = optuna.create_study(storage=url, study_name="s")
    trial = study.ask()  # RUNNING, as a dead worker leaves it
    other = optuna.load_study(study_name="s", storage=url)
    set_trial_attr(optuna.storages.RDBStorage(url), other, trial.number, "stopped", "worker died")
    assert study.trials[trial.number].user_attrs == {"stopped": "worker died"}
    study.tell(trial, 1.0)
    with pytest.raises(optuna.exceptions.UpdateFinishedTrialError):
        set_trial_attr(optuna.storages.RDBStorage(url), other, trial.number, "stopped", "again")


def _open_files(path: Path) -> int:
    fds = Path("/proc/self/fd")
    return sum(1 for fd in fds.iterdir() if os.path.realpath(fd) == str(path.resolve()))


def test_closing_storages_closes_their_sqlite_files(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    storage = opened(optuna.storages.RDBStorage(f"sqlite:///{path}"))
    optuna.create_study(storage=storage).optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    assert _open_files(path) >= 1
    close_storages()
    assert _open_files(path) == 0
    assert len(optuna.load_study(study_name=None, storage=storage).trials) == 2  # still usable


@pytest.fixture
def optuna_records() -> Iterator[list[logging.LogRecord]]:
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    root = optuna.logging.get_logger("optuna")
    root.addHandler(handler)
    try:
        yield records
    finally:
        root.removeHandler(handler)
        show_failed_trials(True)


def _fail(trial: optuna.Trial) -> float:
    trial.suggest_float("x", 0, 1)
    raise ValueError("boom")


@pytest.mark.parametrize("show", [True, False])
def test_failed_trial_records_are_hidden_and_nothing_else_is(
    show: bool, optuna_records: list[logging.LogRecord]
) -> None:
    show_failed_trials(show)
    study = optuna.create_study()
    study.optimize(_fail, n_trials=1, catch=(ValueError,))
    optuna.logging.get_logger("optuna.study._optimize").warning("another warning")
    messages = [r.getMessage() for r in optuna_records if r.levelno >= logging.WARNING]
    failed = [m for m in messages if m.startswith("Trial 0 failed with")]
    assert len(failed) == (2 if show else 0)
    assert "another warning" in messages
