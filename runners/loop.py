"""One member of a population on one task: the code/test back-translation loop.

The coder writes a function from the task; the tester, independently and never seeing
the code, writes asserts from the same task. The sandbox runs one against the other.
Until they agree (aligned) or rounds run out: unusable or degenerate tests are
regenerated, unusable code is regenerated, failing code is repaired with the failing
asserts and their errors as feedback (Self-Debug style).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from accord.runners.extract import extract_code, extract_tests, imported_names
from accord.runners.llm import Gateway, LLMRequest, Meter
from accord.runners.sandbox import ExecResult, Executor
from accord.runners.tasks import Task
from accord.space.config import RoleConfig, RunConfig
from accord.space.prompts import PromptLibrary

RESAMPLE_STRIDE = 1000
"""Sample index offset per regeneration round, so a regenerated answer is a new sample."""
N_TESTS = 5
FEEDBACK_LIMIT = 5


@dataclass(slots=True, kw_only=True)
class LoopContext:
    """What a loop needs from outside: injected, never looked up."""

    gateway: Gateway
    executor: Executor
    prompts: PromptLibrary
    meter: Meter
    transcript: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True, kw_only=True)
class Member:
    index: int
    code: str | None
    tests: tuple[str, ...]
    tests_valid: bool
    """Enough asserts, and trivial stubs fail some of them."""
    result: ExecResult | None
    aligned: bool
    rounds: int

    @property
    def own_pass_fraction(self) -> float | None:
        if self.code is None or self.result is None or not self.result.outcomes:
            return None
        return sum(self.result.passed) / len(self.result.outcomes)


def stubs(entry_point: str) -> tuple[str, str]:
    """Trivial implementations a meaningful test set must reject."""
    return (
        f"def {entry_point}(*args, **kwargs):\n    return None\n",
        f"def {entry_point}(*args, **kwargs):\n    return args[0] if args else None\n",
    )


def tests_are_valid(tests: Sequence[str], task: Task, config: RunConfig, executor: Executor) -> bool:
    if len(tests) < config.min_asserts:
        return False
    return all(
        not executor.run(stub, tests, timeout_s=config.test_timeout_s).all_passed
        for stub in stubs(task.entry_point)
    )


def _ask(ctx: LoopContext, request: LLMRequest, *, task: Task, member: int, stage: str) -> str:
    completion = ctx.gateway.complete(request, meter=ctx.meter)
    ctx.transcript.append(
        {
            "task_id": task.task_id,
            "member": member,
            "stage": stage,
            "role": request.role,
            "model": request.model,
            "sample": request.sample,
            "messages": [dict(m) for m in request.messages],
            "response": completion.text,
            "prompt_tokens": completion.prompt_tokens,
            "completion_tokens": completion.completion_tokens,
            "cost_usd": completion.cost_usd,
            "seconds": round(completion.seconds, 3),
            "cached": completion.cached,
        }
    )
    return completion.text


def _feedback(result: ExecResult) -> str:
    failing = [o for o in result.outcomes if o.status != "passed"][:FEEDBACK_LIMIT]
    return "\n".join(f"{o.test}\n    -> {o.status}: {o.error or 'assertion failed'}" for o in failing)


def run_member(task: Task, config: RunConfig, ctx: LoopContext, member: int) -> Member:
    values = {
        "prompt": task.prompt.strip("\n"),
        "entry_point": task.entry_point,
        "n_tests": N_TESTS,
    }
    allowed = imported_names(task.prompt)

    def ask(template: tuple[str, str], role: RoleConfig, name: str, sample: int, **extra: str) -> str:
        """One model call for ``name`` (coder, tester, repair) with a rendered template."""
        request = LLMRequest(
            model=role.model,
            messages=ctx.prompts.get(*template).render(**values, **extra),
            temperature=role.temperature,
            max_tokens=config.max_tokens,
            sample=sample,
            role=name,
            task_id=task.task_id,
        )
        return _ask(ctx, request, task=task, member=member, stage=template[0])

    def write_code(sample: int) -> str | None:
        text = ask(("code", config.coder.prompt), config.coder, "coder", sample)
        return extract_code(text, prompt=task.prompt, entry_point=task.entry_point)

    def write_tests(sample: int) -> tuple[str, ...]:
        text = ask(("tests", config.tester.prompt), config.tester, "tester", sample)
        return extract_tests(text, entry_point=task.entry_point, allowed_names=allowed)

    def repair(code: str, result: ExecResult, sample: int) -> str | None:
        text = ask(
            ("repair", "feedback"), config.coder, "repair", sample, code=code, feedback=_feedback(result)
        )
        return extract_code(text, prompt=task.prompt, entry_point=task.entry_point) or code

    code = write_code(member)
    tests = write_tests(member)
    valid = tests_are_valid(tests, task, config, ctx.executor)
    rounds = 0
    while True:
        result = ctx.executor.run(code, tests, timeout_s=config.test_timeout_s) if code and tests else None
        aligned = bool(valid and result is not None and result.all_passed)
        ctx.transcript.append(
            {
                "task_id": task.task_id, "member": member, "stage": "execute", "round": rounds,
                "tests_valid": valid, "aligned": aligned, "code": code, "tests": list(tests),
                "outcomes": [[o.status, o.error] for o in result.outcomes] if result else None,
            }
        )  # fmt: skip
        if aligned or rounds >= config.max_rounds:
            break
        rounds += 1
        sample = member + RESAMPLE_STRIDE * rounds
        if not valid:
            tests = write_tests(sample)
            valid = tests_are_valid(tests, task, config, ctx.executor)
        elif code is None or result is None:
            code = write_code(sample)
        else:
            code = repair(code, result, sample)
    return Member(
        index=member,
        code=code,
        tests=tests,
        tests_valid=valid,
        result=result,
        aligned=aligned,
        rounds=rounds,
    )
