"""How one configuration runs: gateway, local models, sandbox, tasks, loop, population."""

from __future__ import annotations

from accord.runners.llm import (
    Backend,
    Completion,
    Gateway,
    LiteLLMBackend,
    LLMRequest,
    Meter,
    ModelSpec,
    RawCompletion,
    ResponseCache,
)
from accord.runners.loop.members import LoopContext, Member
from accord.runners.loop.population import TaskOutcome, run_population
from accord.runners.loop.rounds import run_loops
from accord.runners.run import PASS_SOURCES, RunResult, run_config, score
from accord.runners.sandbox import ExecResult, Executor, Sandbox, TestOutcome
from accord.runners.tasks.load import Task, load_tasks

__all__ = [
    "PASS_SOURCES",
    "Backend",
    "Completion",
    "ExecResult",
    "Executor",
    "Gateway",
    "LLMRequest",
    "LiteLLMBackend",
    "LoopContext",
    "Member",
    "Meter",
    "ModelSpec",
    "RawCompletion",
    "ResponseCache",
    "RunResult",
    "Sandbox",
    "Task",
    "TaskOutcome",
    "TestOutcome",
    "load_tasks",
    "run_config",
    "run_loops",
    "run_population",
    "score",
]
