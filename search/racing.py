"""Stopping bad configurations early (multi-fidelity racing), and not running a
configuration twice.

Optuna cannot prune multi-objective studies, so accord races trials itself. With
``[budget] racing = true`` every trial runs the search tasks in one fixed, seeded order,
in rungs (by default 10%, 30%, then all). After each rung short of the last it asks:
could this configuration still reach the Pareto front? Its pass rate can at best be the
upper end of its 95% interval (Wilson) on the tasks done so far; its cost, projected to
every task, is what it spent times n / k. If a trial already on the front passes at
least that many at no more cost, the trial is stopped: it is recorded with its partial
pass rate and projected cost, infeasible (never on the front), and shown as STOPPED.
Presets always run in full.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Sequence

import optuna

from accord.runners.run import RunResult
from accord.runners.stats import wilson
from accord.runners.tasks import Task
from accord.search.study import REPEAT_ATTR, best_trials
from accord.search.studyfile import Racing


def task_order(tasks: Sequence[Task], seed: int | None) -> tuple[Task, ...]:
    """The order every trial of a racing study runs its tasks in (the study's seed)."""
    order = list(tasks)
    random.Random(seed or 0).shuffle(order)
    return tuple(order)


def rung_sizes(racing: Racing, n: int) -> list[int]:
    """Task counts after which to check, each at least 1 and short of ``n``."""
    return sorted({c for c in (math.ceil(share * n) for share in racing.rungs) if 0 < c < n})


def hopeless(
    front: Sequence[optuna.trial.FrozenTrial], partial: RunResult, n_tasks: int, confidence: float
) -> str:
    """Why a trial cannot reach ``front`` ("" when it still can): some front trial passes
    at least the upper end of its interval at no more than its projected cost."""
    done = len(partial.outcomes)
    if not done:
        return ""
    z = statistics.NormalDist().inv_cdf((1 + confidence) / 2)
    upper = wilson(sum(partial.passed), done, z)[1]
    projected = partial.cost * n_tasks / done
    for trial in front:
        rate, cost = trial.values
        if rate >= upper and cost <= projected and (rate > upper or cost < projected):
            return (
                f"raced: after {done} of {n_tasks} tasks its pass rate could reach {upper:.3f} at best, "
                f"at a projected cost of {projected:.4g}; trial {trial.number} has {rate:.3f} for {cost:.4g}"
            )
    return ""


def current_front(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return best_trials(study)


def earlier_run(study: optuna.Study, trial: optuna.Trial) -> optuna.trial.FrozenTrial | None:
    """A finished trial of the study with exactly these params, run in full (a repeat of
    it measures nothing new: repeats for variance are `accord confirm --repeats`)."""
    for other in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        cut_short = str(other.user_attrs.get("stopped", "")).startswith("budget")  # measured in part: run it
        same = other.number != trial.number and other.params == trial.params and other.values
        if same and not cut_short and REPEAT_ATTR not in other.user_attrs:
            return other
    return None
