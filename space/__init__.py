"""What can be tried: configurations, the search space, prompts and presets. Pure."""

from __future__ import annotations

from accord.space.config import SELECTION_RULES, RoleConfig, RunConfig
from accord.space.errors import (
    AccordError,
    AuthFailed,
    BudgetExceeded,
    ConfigError,
    ContextTooLong,
    LLMError,
    LLMTimeout,
    ModelSetupError,
    ProviderUnavailable,
    RateLimited,
    SandboxError,
    TaskError,
)
from accord.space.presets import PRESETS, preset_params
from accord.space.prompts import PromptLibrary, Template
from accord.space.spec import DIMENSIONS, Choice, Range, SpaceSpec, parse_space
from accord.space.suggest import suggest

__all__ = [
    "DIMENSIONS",
    "PRESETS",
    "SELECTION_RULES",
    "AccordError",
    "AuthFailed",
    "BudgetExceeded",
    "Choice",
    "ConfigError",
    "ContextTooLong",
    "LLMError",
    "LLMTimeout",
    "ModelSetupError",
    "PromptLibrary",
    "ProviderUnavailable",
    "Range",
    "RateLimited",
    "RoleConfig",
    "RunConfig",
    "SandboxError",
    "SpaceSpec",
    "TaskError",
    "Template",
    "parse_space",
    "preset_params",
    "suggest",
]
