"""The records that cross the gateway: a model as declared, a request, a backend's raw
answer and the completion the loop receives; and the Backend interface."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from accord.space.config import MAX_TOKENS, TOP_P

Message = Mapping[str, str]

LOCAL_PREFIX = "local/"
REPLAY_PREFIX = "replay/"


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelSpec:
    """A model as the study file declares it under [models.<alias>]."""

    alias: str
    model: str
    """A litellm model name (``openai/gpt-4o-mini``, ``ollama/qwen2.5``), ``local/<name>``
    or ``replay/<corpus>``."""
    api_base: str | None = None
    api_key_env: str | None = None
    """Name of the environment variable holding the key (the key itself never goes in files)."""
    input_cost_per_token: float | None = None
    output_cost_per_token: float | None = None
    timeout_s: float = 300.0
    max_retries: int = 3
    """Further tries after a transient failure (rate limit, time-out, 5xx), with backoff."""
    path: str | None = None
    """For ``replay/<corpus>`` models: the recorded corpus (JSONL, optionally gzipped)."""
    max_concurrent: int | None = None
    """Calls in flight at once (default: 1 for a local llama.cpp server, 8 otherwise)."""
    rpm: float | None = None
    """Requests per minute at most (None: no limit)."""

    @property
    def concurrency(self) -> int:
        return self.max_concurrent or (1 if self.is_local else 8)

    @property
    def is_local(self) -> bool:
        return self.model.startswith(LOCAL_PREFIX)

    @property
    def is_replay(self) -> bool:
        return self.model.startswith(REPLAY_PREFIX)

    @property
    def priced(self) -> bool:
        """The study file sets a per-token price, which wins over the provider's."""
        return self.input_cost_per_token is not None or self.output_cost_per_token is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class LLMRequest:
    model: str
    """Alias of a declared model."""
    messages: tuple[Message, ...]
    temperature: float = 0.0
    top_p: float = TOP_P
    max_tokens: int = MAX_TOKENS
    sample: int = 0
    """Which sample of this exact prompt: sample i of N is cached apart from sample j."""
    draw: int = 0
    """Which repeat of a whole run (``accord confirm --repeats``): draw d of sample i is
    another sample, so a lucky draw can show as luck. 0 for every search trial."""
    role: str = ""
    """Who asks (coder, tester, planner, repairer): for accounting and fakes, not part of
    the cache key."""
    stage: str = ""
    """Which step of the loop asks (code, tests, repair, reflect, plan, spec, explain,
    check): for accounting and fakes, not part of the cache key."""
    task_id: str = ""
    """The task asked about (replay corpora are indexed by it); not part of the cache key."""
    measure: bool = False
    """The answer cannot change the configuration's result (the tests of a lone sample
    without repair): it is paid, but counted apart from the cost objective."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RawCompletion:
    """What a backend returns for one call."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None = None
    """The provider's price for this call, when the backend knows it."""
    seconds: float | None = None
    """Latency of the request itself, when the backend measures it (excludes set-up such
    as a lazy import or starting a local server)."""
    estimated: bool = False
    """The provider gave no usable token counts: these are the tokenizer's estimate."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    """What the call costs at list price, whether or not it came from the cache."""
    seconds: float
    """Latency of the original call (a cache hit keeps it: the configuration's cost)."""
    cached: bool
    estimated: bool = False
    """Its token counts are estimates (the provider reported none)."""
    unpriced: bool = False
    """Nothing priced the call (no price in the study file, none from the provider): its
    cost_usd of 0 is unknown, not free."""

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class Backend(Protocol):
    def __call__(self, spec: ModelSpec, request: LLMRequest) -> RawCompletion: ...
