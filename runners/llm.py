"""The LLM gateway: every model call goes through Gateway.complete.

The gateway owns what is the same for every provider: the content-addressed response
cache, token and cost accounting, and the cost meter a trial charges. The provider
itself is an injected Backend: LiteLLMBackend (the only code that imports litellm) for
real models, accord.runners.testing.ScriptedBackend for unit tests.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from accord.space.errors import (
    AuthFailed,
    BudgetExceeded,
    ConfigError,
    ContextTooLong,
    LLMError,
    LLMTimeout,
    ProviderUnavailable,
    RateLimited,
)

log = logging.getLogger(__name__)

Message = Mapping[str, str]


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelSpec:
    """A model as the study file declares it under [models.<alias>]."""

    alias: str
    model: str
    """A litellm model name (``openai/gpt-4o-mini``, ``ollama/qwen2.5``) or ``local/<name>``."""
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
        return self.model.startswith("local/")

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
    top_p: float = 1.0
    max_tokens: int = 512
    sample: int = 0
    """Which sample of this exact prompt: sample i of N is cached apart from sample j."""
    role: str = ""
    """Who asks (coder, tester, planner, repairer): for accounting and fakes, not part of
    the cache key."""
    stage: str = ""
    """Which step of the loop asks (code, tests, repair, reflect, plan, spec, explain,
    check): for accounting and fakes, not part of the cache key."""
    task_id: str = ""
    """The task asked about (replay corpora are indexed by it); not part of the cache key."""


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

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class Backend(Protocol):
    def __call__(self, spec: ModelSpec, request: LLMRequest) -> RawCompletion: ...


class ResponseCache:
    """Content-addressed responses in SQLite (WAL): shared by every study on the machine
    and safe under concurrent processes."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._local = threading.local()
        with self._connect() as db:
            db.execute("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, value TEXT NOT NULL)")

    def _connect(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    def get(self, key: str) -> dict[str, Any] | None:
        row = self._connect().execute("SELECT value FROM responses WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, value: Mapping[str, Any]) -> None:
        self._connect().execute(
            "INSERT OR IGNORE INTO responses (key, value) VALUES (?, ?)", (key, json.dumps(value))
        )


def default_cache_path() -> Path:
    base = os.environ.get("ACCORD_CACHE_DIR") or Path.home() / ".cache" / "accord"
    return Path(base) / "responses.sqlite"


def cache_key(spec: ModelSpec, request: LLMRequest) -> str:
    """Identity of a call: the model itself (not its alias), the prompt, the sampling
    parameters and the sample index."""
    identity = {
        "model": spec.model,
        "api_base": None if spec.is_local else spec.api_base,
        "messages": [dict(m) for m in request.messages],
        "temperature": request.temperature,
        "top_p": request.top_p,
        "max_tokens": request.max_tokens,
        "sample": request.sample,
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


@dataclass(slots=True)
class Meter:
    """What a trial spends, in the study's cost unit, against an optional cap."""

    unit: str = "usd"
    cap: float | None = None
    cost: float = 0.0
    spent_usd: float = 0.0
    """What was actually paid: cache hits are free."""
    calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    by_role: dict[str, float] = field(default_factory=dict)
    by_stage: dict[str, float] = field(default_factory=dict)
    tokens_by_role: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def amount(self, completion: Completion) -> float:
        return {
            "usd": completion.cost_usd,
            "tokens": float(completion.tokens),
            "seconds": completion.seconds,
        }[self.unit]

    def check(self) -> None:
        if self.cap is not None and self.cost >= self.cap:
            raise BudgetExceeded(f"cost cap of {self.cap:g} {self.unit} reached")

    def charge(self, completion: Completion, role: str, stage: str = "") -> None:
        with self._lock:
            self._charge(completion, role, stage or role)

    def _charge(self, completion: Completion, role: str, stage: str) -> None:
        amount = self.amount(completion)
        self.cost += amount
        self.by_role[role] = self.by_role.get(role, 0.0) + amount
        self.by_stage[stage] = self.by_stage.get(stage, 0.0) + amount
        self.tokens_by_role[role] = self.tokens_by_role.get(role, 0) + completion.tokens
        self.calls += 1
        self.cache_hits += completion.cached
        self.spent_usd += 0.0 if completion.cached else completion.cost_usd
        self.prompt_tokens += completion.prompt_tokens
        self.completion_tokens += completion.completion_tokens
        self.seconds += completion.seconds


class _Limiter:
    """At most ``concurrency`` calls in flight, and call starts spaced for ``rpm``."""

    def __init__(self, concurrency: int, rpm: float | None) -> None:
        self._slots = threading.BoundedSemaphore(concurrency)
        self._interval = 60.0 / rpm if rpm else 0.0
        self._next_start = 0.0
        self._lock = threading.Lock()

    def __enter__(self) -> None:
        self._slots.acquire()
        if self._interval:
            with self._lock:
                now = time.monotonic()
                start = max(now, self._next_start)
                self._next_start = start + self._interval
            if start > now:
                time.sleep(start - now)

    def __exit__(self, *exc: object) -> None:
        self._slots.release()


class Gateway:
    def __init__(
        self,
        models: Mapping[str, ModelSpec],
        backend: Backend,
        *,
        cache: ResponseCache | None = None,
        clock: Callable[[], float] = time.perf_counter,
        sleep: Callable[[float], None] = time.sleep,
        backoff_s: float = 1.0,
    ) -> None:
        self.models = dict(models)
        self.backend = backend
        self.cache = cache
        self._clock = clock
        self._sleep = sleep
        self._backoff_s = backoff_s
        self._limits: dict[str, _Limiter] = {}
        self._limits_lock = threading.Lock()

    def _limiter(self, spec: ModelSpec) -> _Limiter:
        with self._limits_lock:
            if spec.model not in self._limits:
                self._limits[spec.model] = _Limiter(spec.concurrency, spec.rpm)
            return self._limits[spec.model]

    def _call(self, spec: ModelSpec, request: LLMRequest) -> RawCompletion:
        """The backend's answer, retrying transient failures with exponential backoff."""
        limiter = self._limiter(spec)
        for attempt in range(spec.max_retries + 1):
            try:
                with limiter:
                    return self.backend(spec, request)
            except LLMError as exc:
                if not exc.transient or attempt == spec.max_retries:
                    raise
                delay = min(self._backoff_s * 2**attempt, 60.0) * (0.5 + random.random() / 2)
                log.warning("%s: %s; retry %d in %.1f s", spec.alias, exc, attempt + 1, delay)
                self._sleep(delay)
        raise AssertionError("unreachable")

    def spec(self, alias: str) -> ModelSpec:
        try:
            return self.models[alias]
        except KeyError:
            raise ConfigError(f"unknown model alias {alias!r}") from None

    def complete(self, request: LLMRequest, *, meter: Meter | None = None) -> Completion:
        """One call; charged to ``meter``, which refuses the call once its cap is reached."""
        if meter is not None:
            meter.check()
        spec = self.spec(request.model)
        # a replayed corpus is a recording already: caching it again would only copy it
        cache = None if spec.model.startswith("replay/") else self.cache
        key = cache_key(spec, request) if cache is not None else ""
        hit = cache.get(key) if cache is not None else None
        if hit is not None:
            completion = Completion(cached=True, **hit)
        else:
            start = self._clock()
            raw = self._call(spec, request)
            seconds = self._clock() - start
            completion = Completion(
                text=raw.text,
                prompt_tokens=raw.prompt_tokens,
                completion_tokens=raw.completion_tokens,
                cost_usd=price(spec, raw),
                seconds=raw.seconds if raw.seconds is not None else seconds,
                cached=False,
            )
            if cache is not None:
                cache.put(
                    key,
                    {
                        "text": completion.text,
                        "prompt_tokens": completion.prompt_tokens,
                        "completion_tokens": completion.completion_tokens,
                        "cost_usd": completion.cost_usd,
                        "seconds": completion.seconds,
                    },
                )
        if meter is not None:
            meter.charge(completion, request.role, request.stage)
        return completion


def price(spec: ModelSpec, raw: RawCompletion) -> float:
    """USD for one call: the study file's per-token prices win over the provider's."""
    if spec.priced:
        return raw.prompt_tokens * (spec.input_cost_per_token or 0.0) + raw.completion_tokens * (
            spec.output_cost_per_token or 0.0
        )
    return raw.cost_usd or 0.0


class PrefixRouter:
    """Sends each model to the backend registered for its name's prefix (``replay/``),
    everything else to ``default``."""

    def __init__(self, routes: Mapping[str, Backend], default: Backend) -> None:
        self.routes = dict(routes)
        self.default = default

    def __call__(self, spec: ModelSpec, request: LLMRequest) -> RawCompletion:
        for prefix, backend in self.routes.items():
            if spec.model.startswith(prefix):
                return backend(spec, request)
        return self.default(spec, request)


LITELLM_ERRORS: Mapping[str, type[LLMError]] = {
    "ContextWindowExceededError": ContextTooLong,
    "RateLimitError": RateLimited,
    "AuthenticationError": AuthFailed,
    "PermissionDeniedError": AuthFailed,
    "Timeout": LLMTimeout,
    "APITimeoutError": LLMTimeout,
    "ServiceUnavailableError": ProviderUnavailable,
    "InternalServerError": ProviderUnavailable,
    "BadGatewayError": ProviderUnavailable,
    "APIConnectionError": ProviderUnavailable,
    "APIError": ProviderUnavailable,
    "JSONDecodeError": ProviderUnavailable,
}
"""litellm exception class names (matched along the MRO, most specific first) to accord's."""


def map_error(exc: BaseException, spec: ModelSpec) -> LLMError:
    kind = next(
        (LITELLM_ERRORS[c.__name__] for c in type(exc).__mro__ if c.__name__ in LITELLM_ERRORS), LLMError
    )
    text = str(exc).replace("\n", " ")
    return kind(f"{spec.alias} ({spec.model}): {kind.__name__}: {text}"[:400])


class LiteLLMBackend:
    """Calls any litellm-supported provider; local/<name> models go to accord's own
    llama.cpp servers through their OpenAI-compatible API."""

    def __init__(self, local_base: Callable[[str], str] | None = None) -> None:
        self._local_base = local_base
        self._litellm: Any = None
        self._priced: set[str] = set()
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _client(self, base: str, spec: ModelSpec) -> Any:
        """One HTTP client per local server whose pool keeps a connection alive for every
        call in flight: litellm's default keeps 20, so with more in flight some calls open
        a new connection each time (3-5% of throughput at 32 in flight, measured)."""
        with self._lock:
            if base not in self._clients:
                import httpx
                from litellm.llms.custom_httpx.http_handler import HTTPHandler

                alive = max(20, spec.concurrency)
                limits = httpx.Limits(max_connections=None, max_keepalive_connections=alive)
                self._clients[base] = HTTPHandler(client=httpx.Client(limits=limits, timeout=spec.timeout_s))
            return self._clients[base]

    def _module(self) -> Any:
        if self._litellm is None:
            os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
            import litellm

            litellm.suppress_debug_info = True
            litellm.drop_params = True
            logging.getLogger("LiteLLM").setLevel(logging.WARNING)
            self._litellm = litellm
        return self._litellm

    def _register_price(self, litellm: Any, spec: ModelSpec, model: str) -> None:
        """Give litellm the study file's price for ``model``, once. litellm prices every
        response itself whatever we do; for a model missing from its price map it searches
        the map on every call, which costs about 0.25 ms a call (benchmarks/gateway.py).
        accord's own price() still decides what a call costs."""
        if model in self._priced:
            return
        with self._lock:
            if model in self._priced or not spec.priced:
                self._priced.add(model)
                return
            prompt_price = spec.input_cost_per_token or 0.0
            entry = {
                "input_cost_per_token": prompt_price,
                "output_cost_per_token": spec.output_cost_per_token or 0.0,
                # accord prices every prompt token alike, cached by the provider or not
                "cache_read_input_token_cost": prompt_price,
                "cache_creation_input_token_cost": prompt_price,
                "litellm_provider": model.split("/", 1)[0] if "/" in model else "openai",
                "mode": "chat",
            }
            try:
                litellm.register_model({model: entry})
            except Exception as exc:  # a faster cost look-up is not worth failing a call for
                log.debug("litellm.register_model(%s) failed: %s", model, exc)
            self._priced.add(model)

    def __call__(self, spec: ModelSpec, request: LLMRequest) -> RawCompletion:
        litellm = self._module()
        kwargs: dict[str, Any] = {
            "model": spec.model,
            "messages": [dict(m) for m in request.messages],
            "temperature": request.temperature,
            "top_p": request.top_p,
            "max_tokens": request.max_tokens,
            "seed": request.sample,
            "timeout": spec.timeout_s,
            "num_retries": 0,  # the gateway retries, with the same policy for every backend
        }
        if spec.is_local:
            if self._local_base is None:
                raise ConfigError(f"{spec.model}: local models need the local extra and a server")
            name = spec.model.removeprefix("local/")
            # litellm's route for self-hosted OpenAI-compatible servers: plain httpx, about
            # 0.65 ms a call cheaper than its openai/ route through the OpenAI SDK
            base = self._local_base(name)
            client = self._client(base, spec)
            kwargs.update(model=f"hosted_vllm/{name}", api_base=base, api_key="sk-local", client=client)
        else:
            if spec.api_base:
                kwargs["api_base"] = spec.api_base
            if spec.api_key_env:
                key = os.environ.get(spec.api_key_env)
                if not key:
                    raise LLMError(f"{spec.alias}: environment variable {spec.api_key_env} is not set")
                kwargs["api_key"] = key
        self._register_price(litellm, spec, kwargs["model"])
        start = time.perf_counter()
        try:
            response = litellm.completion(**kwargs)
        except Exception as exc:
            raise map_error(exc, spec) from exc
        usage = getattr(response, "usage", None)
        text = response.choices[0].message.content or ""
        cost: float | None = None
        if not spec.is_local and not spec.priced:
            # litellm has priced the response already; asking again costs a second look-up
            cost = (getattr(response, "_hidden_params", None) or {}).get("response_cost")
            if cost is None:
                log.warning(
                    "no litellm price for %s; set its per-token prices in the study file",
                    spec.model,
                )
        return RawCompletion(
            text=text,
            prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
            cost_usd=None if cost is None else float(cost),
            seconds=time.perf_counter() - start,
        )
