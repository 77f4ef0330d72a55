"""What can be tried: configurations, the search space, prompts and presets. Pure."""

from __future__ import annotations

from accord.space.config import RoleConfig, RunConfig
from accord.space.errors import (
    TRIAL_FAULTS,
    AccordError,
    AuthFailed,
    BudgetExceeded,
    ConfigError,
    ContextTooLong,
    LLMError,
    LLMTimeout,
    MalformedAnswer,
    ModelSetupError,
    ProviderUnavailable,
    RateLimited,
    RequestRejected,
    SandboxError,
    TaskError,
)
from accord.space.methods import METHODS, CascadeGate, RepairPolicy, SelectionRule, Technique
from accord.space.presets import PRESETS, PresetTrial, preset_params, preset_trials
from accord.space.spec import DIMENSIONS, Choice, Range, SpaceSpec, parse_space
from accord.space.suggest import build_config, suggest
from accord.space.templates import PromptLibrary, Template

__all__ = [
    "DIMENSIONS",
    "METHODS",
    "PRESETS",
    "TRIAL_FAULTS",
    "AccordError",
    "AuthFailed",
    "BudgetExceeded",
    "CascadeGate",
    "Choice",
    "ConfigError",
    "ContextTooLong",
    "LLMError",
    "LLMTimeout",
    "MalformedAnswer",
    "ModelSetupError",
    "PresetTrial",
    "PromptLibrary",
    "ProviderUnavailable",
    "Range",
    "RateLimited",
    "RepairPolicy",
    "RequestRejected",
    "RoleConfig",
    "RunConfig",
    "SandboxError",
    "SelectionRule",
    "SpaceSpec",
    "TaskError",
    "Technique",
    "Template",
    "build_config",
    "parse_space",
    "preset_params",
    "preset_trials",
    "suggest",
]
