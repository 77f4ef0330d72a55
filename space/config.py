"""Frozen run configurations: what one trial runs, independent of how it was chosen."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

SELECTION_RULES = ("majority", "first_aligned")
"""Rules that pick one candidate out of a population (population.size > 1)."""

SINGLE = "single"
"""The selection a population of one uses: there is nothing to choose from."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RoleConfig:
    """How one role (coder or tester) calls its model."""

    model: str
    """Alias of a model declared in the study's [models] table."""
    prompt: str
    """Name of a prompt template of this role in the prompt library."""
    temperature: float


@dataclass(frozen=True, slots=True, kw_only=True)
class RunConfig:
    """Everything needed to run one configuration over a task set."""

    coder: RoleConfig
    tester: RoleConfig
    population: int
    max_rounds: int
    """Repair rounds after the first attempt; 0 means single-shot."""
    selection: str
    max_tokens: int = 512
    min_asserts: int = 3
    """A test set with fewer usable asserts is degenerate and cannot align."""
    test_timeout_s: float = 3.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        """The configuration in words, for notes and logs."""
        repair = f"up to {self.max_rounds} repair rounds" if self.max_rounds else "no repair"
        pick = f", {self.selection} selection" if self.population > 1 else ""
        return (
            f"coder {self.coder.model} ({self.coder.prompt}, T={self.coder.temperature:g}), "
            f"tester {self.tester.model} ({self.tester.prompt}, T={self.tester.temperature:g}), "
            f"population {self.population}{pick}, {repair}"
        )
