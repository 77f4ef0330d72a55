"""Frozen run configurations: what one trial runs, independent of how it was chosen."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from typing import Any

from accord.space.methods import CascadeGate, RepairPolicy, SelectionRule, Technique

ENSEMBLE_SEPARATOR = "+"
"""A role's model may be an ensemble "a+b": member i of the population uses model i mod n."""
CASCADE_SEPARATOR = ">"
"""The coder's model may be a cascade "a>b": stage a answers a task unless its gate fails,
then stage b (the last stage always answers). A stage may be an ensemble."""


TOP_P = 1.0
"""top_p when a study leaves it out (no nucleus cut)."""
MAX_TOKENS = 512
"""Tokens a model call may write when a study's [loop] leaves max_tokens out."""
TEMPLATES = {"code": "direct", "tests": "basic", "plan": "default", "spec": "default", "repair": "feedback"}
"""The template each stage uses when nothing chooses another (a role left out uses them too)."""


class Role(StrEnum):
    """Who answers a model call. Every call names its role with this one type; the role's
    settings (model, template, temperature) are ``RunConfig.settings(role)``."""

    CODER = "coder"
    TESTER = "tester"
    PLANNER = "planner"
    REPAIRER = "repairer"


def aliases(value: object) -> tuple[str, ...]:
    """The model aliases a model value names: its cascade's stages, ensembles taken apart."""
    return tuple(
        part for stage in str(value).split(CASCADE_SEPARATOR) for part in stage.split(ENSEMBLE_SEPARATOR)
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class RoleConfig:
    """How one role (coder, tester, planner, repairer) calls its model."""

    model: str
    """Alias of a model declared in the study's [models] table, or an ensemble "a+b"."""
    prompt: str
    """Name of a prompt template of this role's stage in the prompt library."""
    temperature: float
    top_p: float = TOP_P

    @property
    def stages(self) -> tuple[str, ...]:
        """The models of a cascade, cheapest first (one stage: the model itself)."""
        return tuple(self.model.split(CASCADE_SEPARATOR))

    def model_for(self, member: int) -> str:
        """The model member ``member`` of a population uses (ensembles take turns)."""
        models = self.model.split(ENSEMBLE_SEPARATOR)
        return models[member % len(models)]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunConfig:
    """Everything needed to run one configuration over a task set."""

    coder: RoleConfig
    tester: RoleConfig
    population: int
    max_rounds: int
    """Repair rounds after the first attempt; 0 means single-shot."""
    selection: SelectionRule
    planner: RoleConfig | None = None
    """Writes plans and specs and checks self-explanations; None: the coder does."""
    repairer: RoleConfig | None = None
    """Writes repairs and reflections; None: the coder does."""
    technique: Technique = Technique.DIRECT
    fewshot_k: int = 0
    """Worked examples shown to the coder and tester (technique "fewshot")."""
    self_explain: bool = False
    """Before a member counts as aligned, its code is described back in words and the
    planner checks the description against the task; a mismatch is repaired."""
    repair: RepairPolicy = RepairPolicy.CODE
    adaptive: bool = False
    """Draw the population in batches and stop once the rule's leading cluster is safely
    ahead (Adaptive-Consistency's Beta criterion); ``population`` is the most drawn."""
    test_samples: int = 0
    """Test generations per task, shared by the population (0: one per member, CodeT's
    N code and N test samples)."""
    distinguish: bool = False
    """When the top two clusters disagree, the tester writes inputs on which they differ
    and the model judges which output the task asks for (S*)."""
    gate: CascadeGate = CascadeGate.SHARE
    """When the coder is a cascade: what decides that a stage's answer stands."""
    threshold: float = 0.5
    """The gate's threshold (a share, a margin or a confidence, all in [0, 1])."""
    pool: bool = False
    """A cascade's later stages vote with the earlier stages' candidates too."""
    last_population: int = 0
    """Members the last stage of a cascade draws (0: ``population``, as every stage)."""
    max_tokens: int = MAX_TOKENS
    min_asserts: int = 3
    """A test set with fewer usable asserts is degenerate and cannot align."""
    max_asserts: int = 5
    """Asserts kept from one answer of the tester (the first ones; CodeT keeps 5)."""
    test_timeout_s: float = 3.0

    def __post_init__(self) -> None:
        # study files and exports give plain strings: hold the enum members
        object.__setattr__(self, "technique", Technique(self.technique))
        object.__setattr__(self, "repair", RepairPolicy(self.repair))
        object.__setattr__(self, "selection", SelectionRule(self.selection))
        object.__setattr__(self, "gate", CascadeGate(self.gate))

    @property
    def cascade(self) -> bool:
        return len(self.coder.stages) > 1

    def stage(self, k: int) -> RunConfig:
        """Stage ``k`` of a cascade: the same configuration with that stage's model as the
        coder (and as the planner and repairer where they are the coder's model)."""
        model = self.coder.stages[k]

        def staged(role: RoleConfig | None) -> RoleConfig | None:
            return replace(role, model=model) if role and role.model == self.coder.model else role

        last = k == len(self.coder.stages) - 1
        return replace(
            self,
            coder=replace(self.coder, model=model),
            planner=staged(self.planner),
            repairer=staged(self.repairer),
            population=self.last_population if last and self.last_population else self.population,
        )

    @property
    def planner_role(self) -> RoleConfig:
        return self.planner or self.coder

    @property
    def repairer_role(self) -> RoleConfig:
        return self.repairer or self.coder

    def settings(self, role: Role) -> RoleConfig:
        """How ``role`` calls its model (the planner and repairer default to the coder's)."""
        return {
            Role.CODER: self.coder,
            Role.TESTER: self.tester,
            Role.PLANNER: self.planner_role,
            Role.REPAIRER: self.repairer_role,
        }[role]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        """The configuration in words, for notes and logs."""

        def role(r: RoleConfig) -> str:
            top_p = f", top_p={r.top_p:g}" if r.top_p != TOP_P else ""
            return f"{r.model} ({r.prompt}, T={r.temperature:g}{top_p})"

        technique = Technique(self.technique).phrase.format(planner=self.planner_role.model, k=self.fewshot_k)
        repair = (
            f"up to {self.max_rounds} rounds of {self.repair} repair by {self.repairer_role.model}"
            if self.max_rounds
            else "no repair"
        )
        pick = ""
        if self.population > 1:
            pick = f", {self.selection} selection"
            if self.distinguish:
                pick += " with distinguishing inputs"
            if self.test_samples:
                pick += f", {self.test_samples} test samples"
        explain = ", self-explanation checked" if self.self_explain else ""
        cascade = ""
        if self.cascade:
            gate = CascadeGate(self.gate).phrase.format(threshold=self.threshold)
            cascade = f"; cascade {' > '.join(self.coder.stages)}, a stage answers when {gate}"
            cascade += ", earlier candidates pooled" if self.pool else ""
            if self.last_population:
                cascade += f", the last stage draws {self.last_population}"
        return (
            f"coder {role(self.coder)}, tester {role(self.tester)}; {technique}; "
            f"population {'adaptive, up to ' if self.adaptive else ''}{self.population}{pick}; "
            f"{repair}{explain}{cascade}"
        )
