"""The loop: one task's population of code/test loops and its answer. The rounds
(rounds), the members and the context a trial injects (members), the service strategies
ask for model calls and sandbox runs (service), one strategy table per method dimension
(techniques, repairs, selectors with their pure rules, gates), distinguishing inputs,
the transcript, and the population that runs a cascade's stages and picks the answer.
Imports llm, sandbox, tasks and accord.space; never the search."""

from __future__ import annotations

from accord.runners.loop.members import LoopContext, Member
from accord.runners.loop.population import TaskOutcome, run_population
from accord.runners.loop.rounds import Loop, run_loops

__all__ = ["Loop", "LoopContext", "Member", "TaskOutcome", "run_loops", "run_population"]
