"""The LLM gateway: every model call goes through Gateway.complete.

The gateway owns what is the same for every provider: the response cache, retries with
backoff, per-model concurrency and rate limits, token and cost accounting, and the meter
a trial charges. The provider itself is an injected Backend: LiteLLMBackend
(runners/llm/provider.py, the only code that imports litellm) for real models,
ReplayBackend for recorded corpora, accord.runners.testing.ScriptedBackend for tests.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, replace
from typing import Any

from accord.runners.llm.cache import ResponseCache, cache_key
from accord.runners.llm.meter import Meter
from accord.runners.llm.records import Backend, Completion, LLMRequest, ModelSpec, RawCompletion
from accord.space.errors import ConfigError, LLMError

log = logging.getLogger(__name__)


class _Limiter:
    """At most ``concurrency`` calls in flight, and call starts spaced for ``rpm``."""

    def __init__(
        self,
        concurrency: int,
        rpm: float | None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._clock, self._sleep = clock, sleep
        self._slots = threading.BoundedSemaphore(concurrency)
        self._interval = 60.0 / rpm if rpm else 0.0
        self._next_start = 0.0
        self._lock = threading.Lock()

    def __enter__(self) -> None:
        self._slots.acquire()
        if self._interval:
            with self._lock:
                now = self._clock()
                start = max(now, self._next_start)
                self._next_start = start + self._interval
            if start > now:
                self._sleep(start - now)

    def __exit__(self, *exc: object) -> None:
        self._slots.release()


def price(spec: ModelSpec, raw: RawCompletion) -> float:
    """USD for one call at today's prices: the study file's per-token prices win over the
    provider's (which the cache keeps as it was billed)."""
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
        self._unpriced: set[str] = set()
        self._replayed: set[str] = set()

    def _limiter(self, spec: ModelSpec) -> _Limiter:
        with self._limits_lock:
            if spec.model not in self._limits:
                self._limits[spec.model] = _Limiter(spec.concurrency, spec.rpm, self._clock, self._sleep)
            return self._limits[spec.model]

    def _call(self, spec: ModelSpec, request: LLMRequest) -> RawCompletion:
        """The backend's answer, retrying transient failures with exponential backoff."""
        limiter = self._limiter(spec)
        attempt = 0
        while True:
            try:
                with limiter:
                    return self.backend(spec, request)
            except LLMError as exc:
                if not exc.transient or attempt >= spec.max_retries:
                    raise
                delay = min(self._backoff_s * 2**attempt, 60.0) * (0.5 + random.random() / 2)
                log.warning("%s: %s; retry %d in %.1f s", spec.alias, exc, attempt + 1, delay)
                self._sleep(delay)
                attempt += 1

    def _replayed_before(self, key: str) -> bool:
        """A replayed call this gateway served before: as the response cache would answer a
        live model's repeat, it costs the configuration and is not paid again."""
        with self._limits_lock:
            seen = key in self._replayed
            self._replayed.add(key)
        return seen

    def spec(self, alias: str) -> ModelSpec:
        try:
            return self.models[alias]
        except KeyError:
            raise ConfigError(f"unknown model alias {alias!r}") from None

    def complete(self, request: LLMRequest, *, meter: Meter | None = None) -> Completion:
        """One call; charged to ``meter``, which refuses the call once its cap is reached."""
        with meter.admission() if meter is not None else contextlib.nullcontext():
            return self._complete(request, meter)

    def _complete(self, request: LLMRequest, meter: Meter | None) -> Completion:
        spec = self.spec(request.model)
        # a replayed corpus is a recording already: caching it again would only copy it
        cache = None if spec.is_replay else self.cache
        key = cache_key(spec, request) if cache is not None or spec.is_replay else ""
        hit = cache.get(key) if cache is not None else None
        raw = cached_answer(hit) if hit is not None else None
        cached = raw is not None or (spec.is_replay and self._replayed_before(key))
        if raw is None:
            start = self._clock()
            raw = self._call(spec, request)
            if raw.seconds is None:
                raw = replace(raw, seconds=self._clock() - start)
            if cache is not None:
                cache.put(key, asdict(raw))
        completion = Completion(
            text=raw.text,
            prompt_tokens=raw.prompt_tokens,
            completion_tokens=raw.completion_tokens,
            cost_usd=price(spec, raw),  # at the study's prices now, for a cached answer too
            seconds=raw.seconds or 0.0,
            cached=cached,
            estimated=raw.estimated,
            unpriced=not spec.priced and raw.cost_usd is None,
        )
        usd = meter is not None and meter.unit == "usd"  # in tokens or seconds a price is not needed
        if completion.unpriced and usd and spec.alias not in self._unpriced:
            self._unpriced.add(spec.alias)  # once per model: every call of it is counted
            log.warning(
                "%s (%s) has no known price: its calls count as unpriced, not free; "
                "set models.%s.input_cost_per_token and output_cost_per_token",
                spec.alias, spec.model, spec.alias,
            )  # fmt: skip
        if meter is not None:
            meter.charge(completion, request.role, request.stage, measure=request.measure)
        return completion


def cached_answer(hit: Mapping[str, Any]) -> RawCompletion | None:
    """A cached answer as the provider gave it: tokens and the provider's own price, never a
    study's price (prices change; tokens do not). None when the entry is unreadable."""
    try:
        return RawCompletion(
            text=str(hit["text"]),
            prompt_tokens=int(hit["prompt_tokens"]),
            completion_tokens=int(hit["completion_tokens"]),
            # entries written before 2026-11 kept the priced cost under this name
            cost_usd=hit.get("cost_usd"),
            seconds=float(hit.get("seconds") or 0.0),
            estimated=bool(hit.get("estimated", False)),
        )
    except (KeyError, TypeError, ValueError):
        return None
