"""Distinguishing inputs (S*, Li et al. 2025): when a population's top two clusters
disagree, ask for inputs on which they differ and let the model judge the outputs.

The tester sees the task and one program of each cluster and writes calls of the entry
point on which they may differ. Both programs run on those calls in the sandbox; where
their outputs differ, the planner (the coder's model unless a planner is set) is shown
the task, the call and the two outputs, unlabelled by cluster, and answers which one the
task asks for. The runner-up cluster wins only if it wins more of these judgements than
the leader; otherwise (no differing input, a tie, an unreadable answer) the rule's pick
stands. Every call here can change the answer, so it counts in the cost objective. A
replayed corpus cannot answer these prompts: the study file says so at load.
"""

from __future__ import annotations

import ast
import re

from accord.runners.loop.rules import probe_output
from accord.runners.loop.selectors import RANKINGS, Ballot
from accord.runners.loop.service import Service
from accord.runners.sandbox import ExecResult
from accord.runners.tasks.extract import imported_names, probes
from accord.space.config import Role
from accord.space.methods import SelectionRule

MAX_INPUTS = 3
_FENCE = re.compile(r"```(?:python|py)?\n(.*?)```", re.DOTALL)


def calls_in(text: str) -> list[str]:
    """The lines of an answer (its fenced blocks, if it has any) that parse as Python."""
    blocks = _FENCE.findall(text) or [text]
    lines = []
    for line in (line.strip() for block in blocks for line in block.splitlines()):
        try:
            ast.parse(line)
        except SyntaxError:
            continue
        lines.append(line)
    return lines


def shown(result: ExecResult, index: int) -> str | None:
    """What a probe's call returned, in words (None: the run gave no outcome for it)."""
    if index >= len(result.outcomes):
        return None
    outcome = result.outcomes[index]
    if outcome.status.value == "failed":  # a probe fails on purpose, with its output
        return probe_output(outcome.error)
    if outcome.status.value == "timeout":
        return "(does not finish in time)"
    return f"(raises an error: {(outcome.error or '').splitlines()[-1:] or ['?']})"


def distinguish(loop: Service, ballot: Ballot, rule: SelectionRule, chosen: int | None) -> int | None:
    """The rule's pick, or the runner-up cluster's first member when the judge prefers
    its outputs on inputs where the two clusters differ."""
    ranked = RANKINGS[rule](ballot)
    if len(ranked) < 2:
        return chosen
    leader, runner_up = ranked[0][0], ranked[1][0]
    code_a, code_b = ballot.members[leader].code, ballot.members[runner_up].code
    if not code_a or not code_b:
        return chosen
    task = loop.task
    answer = loop.ask("distinguish", "default", Role.TESTER, leader, leader, code_a=code_a, code_b=code_b)
    inputs = probes(calls_in(answer), task.entry_point, imported_names(task.prompt))[:MAX_INPUTS]
    if not inputs:
        return chosen
    run_a, run_b = loop.execute([(code_a, inputs), (code_b, inputs)])
    votes = {"a": 0, "b": 0}
    for index, probe in enumerate(inputs):
        out_a, out_b = shown(run_a, index), shown(run_b, index)
        if out_a is None or out_b is None or out_a == out_b:
            continue
        call = probe.splitlines()[0].removeprefix("_v = ")
        verdict = loop.ask(
            "judge", "default", Role.PLANNER, leader, index,
            call=call, output_a=out_a, output_b=out_b,
        )  # fmt: skip
        first = verdict.strip()[:1].upper()
        if first in ("A", "B"):
            votes[first.lower()] += 1
    return runner_up if votes["b"] > votes["a"] else chosen
