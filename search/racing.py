"""Stopping bad configurations early (multi-fidelity racing), and not running a
configuration twice.

Optuna cannot prune multi-objective studies, so accord races trials itself. With
``[budget] racing = true`` every trial runs the search tasks in one fixed, seeded order,
in rungs (by default 10%, 30%, then all). After each rung short of the last it asks:
could this configuration still reach the Pareto front?

The test is paired (``racing_test = "paired"``, the default): on the tasks the trial has
run, each front trial's recorded verdicts (``passed_tasks``, in the same order) are set
against the trial's, and an exact one-sided sign test on the tasks where they disagree
asks whether the front trial is better. Configurations of one study are strongly
correlated (on a replayed corpus they share their very samples), so this is far sharper
than an interval of the trial's own. A front trial counts only if it is no dearer than
the trial could still be: the trial's cost per task so far, at the low end of its 95%
interval, projected to every task. The confidence is Bonferroni-corrected for the rungs
and the front trials compared. ``racing_test = "interval"`` is the earlier rule: the
upper end of the trial's own Wilson interval against the front trials' rates.

A stopped trial is recorded with its partial pass rate and projected cost, infeasible
(never on the front), and shown as STOPPED with its reason. Presets always run in full.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Sequence

import optuna

from accord.runners.run import RunResult
from accord.runners.tasks.load import Task
from accord.search.record import REPEAT_ATTR, record
from accord.search.stats import sign_test, wilson
from accord.search.study import best_trials, passed_vector
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
    front: Sequence[optuna.trial.FrozenTrial],
    partial: RunResult,
    n_tasks: int,
    racing: Racing,
    rungs: int = 1,
) -> str:
    """Why a trial cannot reach ``front`` ("" when it still can), by ``racing.test``."""
    if not partial.outcomes:
        return ""
    if racing.test == "interval":
        return _beyond_interval(front, partial, n_tasks, racing.confidence)
    return _beaten_paired(front, partial, n_tasks, racing.confidence, rungs)


def projected_cost_low(partial: RunResult, n_tasks: int, confidence: float) -> float:
    """The trial's cost over every task, from its cost per task so far at the low end of
    its interval (a trial may still reach the front by being cheap)."""
    costs = [o.cost for o in partial.outcomes]
    mean = statistics.fmean(costs)
    if len(costs) < 2:
        return 0.0
    z = statistics.NormalDist().inv_cdf(confidence)
    return max(0.0, mean - z * statistics.stdev(costs) / math.sqrt(len(costs))) * n_tasks


def _beaten_paired(
    front: Sequence[optuna.trial.FrozenTrial], partial: RunResult, n_tasks: int, confidence: float, rungs: int
) -> str:
    done = len(partial.outcomes)
    mine = list(partial.passed[:done])
    cheapest = projected_cost_low(partial, n_tasks, confidence)
    rivals = [t for t in front if t.values and t.values[1] <= cheapest and _verdicts(t, n_tasks)]
    alpha = (1 - confidence) / (max(1, rungs) * max(1, len(rivals)))
    for trial in rivals:
        theirs = (_verdicts(trial, n_tasks) or [])[:done]
        losses = sum(t and not m for t, m in zip(theirs, mine, strict=True))
        wins = sum(m and not t for t, m in zip(theirs, mine, strict=True))
        p = sign_test(losses, wins)
        if p <= alpha:
            return (
                f"raced: on its first {done} of {n_tasks} tasks trial {trial.number} passed {losses} that "
                f"it failed and failed {wins} that it passed (one-sided sign test p = {p:.2g}, at most "
                f"{alpha:.2g} needed), at {trial.values[1]:.4g}, no more than it could cost ({cheapest:.4g})"
            )
    return ""


def _verdicts(trial: optuna.trial.FrozenTrial, n_tasks: int) -> list[bool] | None:
    vector = passed_vector(trial)
    return vector if vector is not None and len(vector) == n_tasks else None


def _beyond_interval(
    front: Sequence[optuna.trial.FrozenTrial], partial: RunResult, n_tasks: int, confidence: float
) -> str:
    """Some front trial passes at least the upper end of the trial's interval at no more
    than its projected cost."""
    done = len(partial.outcomes)
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
        cut_short = record(other).cut_short  # measured in part: run it
        same = other.number != trial.number and other.params == trial.params and other.values
        if same and not cut_short and REPEAT_ATTR not in other.user_attrs:
            return other
    return None
