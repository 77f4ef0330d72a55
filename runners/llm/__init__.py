"""The LLM gateway and what crosses it: records, the response cache, the meter, and the
litellm provider (the only module that imports litellm)."""

from __future__ import annotations

from accord.runners.llm.cache import ResponseCache, cache_key
from accord.runners.llm.gateway import Gateway, PrefixRouter, price
from accord.runners.llm.meter import Meter
from accord.runners.llm.provider import LiteLLMBackend, count_tokens, map_error
from accord.runners.llm.records import (
    Backend,
    Completion,
    LLMRequest,
    Message,
    ModelSpec,
    RawCompletion,
)

__all__ = [
    "Backend",
    "Completion",
    "Gateway",
    "LLMRequest",
    "LiteLLMBackend",
    "Message",
    "Meter",
    "ModelSpec",
    "PrefixRouter",
    "RawCompletion",
    "ResponseCache",
    "cache_key",
    "count_tokens",
    "map_error",
    "price",
]
