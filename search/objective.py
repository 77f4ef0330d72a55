"""The Optuna objective: suggest a configuration, run it on the task set, score it."""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import optuna
from optuna.artifacts import FileSystemArtifactStore, upload_artifact
from optuna_dashboard import save_note

from accord.runners.llm import Gateway, Meter
from accord.runners.loop.population import TaskOutcome
from accord.runners.loop.transcript import JsonlTranscript
from accord.runners.run import RunResult, StageFigures, gate_precision, run_config, stage_figures
from accord.runners.sandbox import Executor
from accord.runners.tasks.load import Task
from accord.search.racing import current_front, earlier_run, hopeless, rung_sizes, task_order
from accord.search.record import (
    CASCADE_ATTR,
    CONFIG_ATTR,
    FAIL_ATTR,
    PAID_ATTR,
    PRESET_ATTR,
    PRESET_MODEL_ATTR,
    REPEAT_ATTR,
    SPEND_ATTR,
    STOPPED_ATTR,
    WORKER_ATTR,
    record,
)
from accord.search.stats import Rate, bits
from accord.search.study import remaining_budget, worker_id
from accord.search.studyfile import StudyDefinition
from accord.space import RunConfig, suggest

OnTask = Callable[[TaskOutcome], None]


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def spend_attrs(meter: Meter) -> dict[str, float | int]:
    return {
        SPEND_ATTR: meter.total,
        PAID_ATTR: meter.paid,
        "spent_usd": meter.spent_usd,
        "calls": meter.calls,
    }


def user_attrs(result: RunResult, sandbox_mode: str) -> dict[str, float | int | str | None]:
    """Scalar trial attributes (the dashboard shows them; keep them short)."""
    meter = result.meter
    attrs: dict[str, float | int | str | None] = {
        **spend_attrs(meter),
        "passed_tasks": bits(result.passed),
        "alignment_rate": round(result.alignment_rate, 6),
        "false_alignment_rate": _rounded(result.false_alignment_rate),
        "tester_accuracy": _rounded(result.tester_accuracy),
        "measure_cost": meter.measure_cost,
        "tasks_done": len(result.outcomes),
        "tasks": result.n_tasks,
        "tokens": meter.prompt_tokens + meter.completion_tokens,
        "prompt_tokens": meter.prompt_tokens,
        "completion_tokens": meter.completion_tokens,
        "calls": meter.calls,
        "cache_hits": meter.cache_hits,
        "estimated_usage_calls": meter.estimated_calls,
        "unpriced_calls": meter.unpriced_calls,
        "llm_seconds": round(meter.seconds, 3),
        "wall_seconds": round(result.seconds, 3),
        "spent_usd": meter.spent_usd,
        "rounds": sum(o.rounds for o in result.outcomes),
        "sandbox": sandbox_mode,
        STOPPED_ATTR: result.stopped,
    }
    for role, amount in sorted(meter.by_role.items()):
        attrs[f"cost_{role}"] = amount
    for role, tokens in sorted(meter.tokens_by_role.items()):
        attrs[f"tokens_{role}"] = tokens
    for stage, amount in sorted(meter.by_stage.items()):
        attrs[f"cost_stage_{stage}"] = amount
    return attrs


def cascade_attrs(result: RunResult, config: RunConfig, pass_source: str) -> dict[str, float | str | None]:
    """Per stage of a cascade: the share of tasks it answered, its cost, and the pass rate
    of its answers; the gates' precision; and all of it in one sentence."""
    if not config.cascade:
        return {}
    figures = stage_figures(result.outcomes, config.coder.stages, pass_source)
    n = max(1, len(result.outcomes))
    attrs: dict[str, float | str | None] = {}
    for k, stage in enumerate(figures, 1):
        attrs[f"stage{k}_answered"] = round(stage.answered / n, 6)
        attrs[f"stage{k}_cost"] = stage.cost
        attrs[f"stage{k}_pass_rate"] = round(stage.passed / stage.answered, 6) if stage.answered else None
    precision = gate_precision(figures)
    attrs["gate_precision"] = _rounded(precision)
    attrs[CASCADE_ATTR] = why_cheap(figures, n, precision)
    return attrs


def why_cheap(figures: Sequence[StageFigures], n: int, precision: float | None) -> str:
    """A cascade's run in words: where the tasks stopped, what each stage cost, and how
    often a gate that stopped a task was right."""
    total = sum(f.cost for f in figures) or 1.0
    parts = []
    for k, f in enumerate(figures):
        passed = f", {f.passed} of them passed" if f.answered else ""
        went = "answered" if k == 0 else f"reached by {f.reached}, answered"
        parts.append(
            f"stage {k + 1} ({f.model}) {went} {f.answered} of {n} tasks{passed}, "
            f"{f.cost / total:.0%} of the cost"
        )
    gate = (
        f"; the gate was right on {precision:.0%} of the tasks it stopped early"
        if precision is not None
        else "; the gate stopped no task early"
    )
    return "; ".join(parts) + gate


def _note(trial: optuna.Trial, config: RunConfig, result: RunResult | None = None) -> None:
    """The configuration in words (and, once scored, its pass rate with n and interval),
    as the trial's note in optuna-dashboard."""
    about = record(trial)
    preset, model = about.preset, about.preset_model
    heading = f"Trial {trial.number}" + (f": preset `{preset}` on `{model}`" if preset else "")
    text = f"## {heading}\n\n{config.describe()}\n"
    if result is not None:
        passed = Rate(sum(result.passed), result.n_tasks)
        low, high = passed.interval
        text += (
            f"\nPass rate on the search tasks: **{passed.value:.3f}** (95% interval {low:.2f}-{high:.2f}, "
            f"n = {passed.n}); cost {result.cost:.4g}."
            + (f" Stopped early: {result.stopped}." if result.stopped else "")
            + "\n\nPicked on these tasks, a configuration's rate here is optimistic: `accord confirm` "
            "measures it on held-out tasks.\n"
        )
    if result is not None and config.cascade:
        text += f"\nWhy it costs what it does: {trial.user_attrs.get(CASCADE_ATTR, '')}.\n"
    save_note(trial, text)


class Objective:
    def __init__(
        self,
        definition: StudyDefinition,
        tasks: Sequence[Task],
        gateway: Gateway,
        executor: Executor,
        *,
        artifacts: FileSystemArtifactStore | None = None,
        on_task_factory: Callable[[int], OnTask] | None = None,
        on_repeat: str = "reuse",
    ) -> None:
        self.definition = definition
        racing = definition.racing
        self.tasks = task_order(tasks, definition.seed) if racing else tuple(tasks)
        self.on_repeat = on_repeat
        """What a trial whose params a finished trial already ran gets: "reuse" (its values,
        marked as a repeat, costing nothing) or "resample" (pruned, for the sampler to ask
        again); benchmarks/repeats.py measured both."""
        self.gateway = gateway
        self.executor = executor
        self.artifacts = artifacts
        self.on_task_factory = on_task_factory

    def __call__(self, trial: optuna.Trial) -> tuple[float, float]:
        definition = self.definition
        trial.set_user_attr(WORKER_ATTR, worker_id())
        config = suggest(trial, definition.space, definition.settings)
        trial.set_user_attr(CONFIG_ATTR, config.describe())
        earlier = earlier_run(trial.study, trial)
        if earlier is not None:
            return self._repeat(trial, earlier)
        _note(trial, config)
        caps = [definition.max_cost_per_trial, remaining_budget(trial.study, definition)]
        meter = Meter(unit=definition.cost_unit, cap=min((c for c in caps if c is not None), default=None))
        on_task = self.on_task_factory(trial.number) if self.on_task_factory else None
        with tempfile.TemporaryDirectory() as tmp:
            transcript_path = Path(tmp) / f"trial-{trial.number}-transcript.jsonl"
            with JsonlTranscript(transcript_path) as transcript:
                ctx = definition.loop_context(self.gateway, self.executor, meter=meter, transcript=transcript)
                try:
                    result = run_config(
                        self.tasks, config, ctx, pass_source=definition.pass_source, on_task=on_task,
                        **self._racing(trial),
                    )  # fmt: skip
                except BaseException as exc:
                    # a failed trial still paid for its calls: the study's budget counts them
                    with contextlib.suppress(Exception):
                        for key, spent in spend_attrs(meter).items():
                            trial.set_user_attr(key, spent)
                        reason = str(exc).splitlines()[0] if str(exc) else ""
                        trial.set_user_attr(FAIL_ATTR, f"{type(exc).__name__}: {reason}"[:300])
                    raise
            attrs = {
                **user_attrs(result, self.executor.mode),
                **cascade_attrs(result, config, definition.pass_source),
            }
            for key, value in attrs.items():
                trial.set_user_attr(key, value)
            self._constrain(trial, result)
            self._upload(trial, result, transcript_path)
            _note(trial, config, result)
        if result.stopped.startswith("raced"):  # its partial figures: the rate so far, the cost projected
            done = len(result.outcomes)
            trial.set_user_attr("spent_before_stop", result.cost)
            return sum(result.passed) / done, result.cost * result.n_tasks / done
        return result.pass_rate, result.cost

    def _racing(self, trial: optuna.Trial) -> dict[str, Any]:
        """Rungs and the check after each, for a racing study's non-preset trials."""
        racing = self.definition.racing
        if racing is None or record(trial).preset:
            return {}
        n = len(self.tasks)
        rungs = rung_sizes(racing, n)
        return {
            "rungs": rungs,
            "keep_going": lambda partial: hopeless(
                current_front(trial.study), partial, n, racing, len(rungs)
            ),
        }

    def _repeat(self, trial: optuna.Trial, earlier: optuna.trial.FrozenTrial) -> tuple[float, float]:
        """A configuration already measured: its figures again, marked, at no cost (or, to
        resample, pruned)."""
        trial.set_user_attr(REPEAT_ATTR, earlier.number)
        trial.set_user_attr(SPEND_ATTR, 0.0)
        if self.on_repeat == "resample":
            raise optuna.TrialPruned(f"repeats trial {earlier.number}")
        skip = {WORKER_ATTR, SPEND_ATTR, PAID_ATTR, "spent_usd", "calls", "cache_hits"}
        for key, value in earlier.user_attrs.items():
            if key not in skip and key not in (PRESET_ATTR, PRESET_MODEL_ATTR):
                trial.set_user_attr(key, value)
        for name, value in earlier.constraints.items() if earlier.constraints else ():
            trial.set_constraint(name, value)
        if not earlier.constraints:
            trial.set_constraint("budget", -1.0)
        assert earlier.values is not None
        return earlier.values[0], earlier.values[1]

    def _constrain(self, trial: optuna.Trial, result: RunResult) -> None:
        """Feasible (<= 0) only when the trial ran every task within its per-trial cap: a
        run cut short by a cap scored only part of the task set and must not reach the front."""
        cap = self.definition.max_cost_per_trial
        if result.stopped:
            value = 1.0 + (result.n_tasks - len(result.outcomes)) / result.n_tasks
        elif cap is not None:
            value = result.cost / cap - 1.0
        else:
            value = -1.0
        trial.set_constraint("budget", value)

    def _upload(self, trial: optuna.Trial, result: RunResult, transcript: Path) -> None:
        if self.artifacts is None:
            return
        selected = transcript.with_name(f"trial-{trial.number}-selected.json")
        rows = [
            {"task_id": o.task_id, "code": o.code, "aligned": o.aligned, "hidden_passed": o.hidden_passed}
            for o in result.outcomes
        ]
        selected.write_text(json.dumps(rows, indent=1))
        for file in (transcript, selected):
            upload_artifact(artifact_store=self.artifacts, file_path=str(file), study_or_trial=trial)
