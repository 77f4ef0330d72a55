"""The only module that imports litellm: the backend for real models, the mapping of
litellm's exceptions to accord's, and the tokenizer replay corpora are counted with.

litellm is imported lazily, once (it takes 3-5 s), with its price map read from the copy
it bundles (``LITELLM_LOCAL_MODEL_COST_MAP``: no network look-up).
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from accord.runners.llm.records import LOCAL_PREFIX, LLMRequest, ModelSpec, RawCompletion
from accord.space.errors import (
    AuthFailed,
    ConfigError,
    ContextTooLong,
    LLMError,
    LLMTimeout,
    MalformedAnswer,
    ProviderUnavailable,
    RateLimited,
    RequestRejected,
)

log = logging.getLogger(__name__)

MAX_TOKENS_A_CALL = 10_000_000
"""More tokens than any call has: a count above it is a malformed answer."""
DRAW_SEED_STRIDE = 1_000_003
"""Seeds of another draw start past any sample index a run uses."""

_module: Any = None
_module_lock = threading.Lock()


def litellm() -> Any:
    """The litellm module, imported on first use with accord's settings."""
    global _module
    with _module_lock:
        if _module is None:
            os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
            import litellm as module

            module.suppress_debug_info = True
            module.drop_params = True
            logging.getLogger("LiteLLM").setLevel(logging.WARNING)
            _module = module
    return _module


def _error_table() -> tuple[tuple[type[BaseException], type[LLMError]], ...]:
    """litellm's exception classes to accord's, most specific first (isinstance order)."""
    ex = litellm().exceptions
    return (
        (ex.ContextWindowExceededError, ContextTooLong),
        (ex.AuthenticationError, AuthFailed),
        (ex.PermissionDeniedError, AuthFailed),
        (ex.BadRequestError, RequestRejected),
        (ex.NotFoundError, RequestRejected),
        (ex.UnprocessableEntityError, RequestRejected),
        (ex.RateLimitError, RateLimited),
        (ex.Timeout, LLMTimeout),
        (ex.APIConnectionError, ProviderUnavailable),
        (ex.ServiceUnavailableError, ProviderUnavailable),
        (ex.InternalServerError, ProviderUnavailable),
        (ex.BadGatewayError, ProviderUnavailable),
        (ex.APIResponseValidationError, MalformedAnswer),
        (ex.APIError, ProviderUnavailable),
        (json.JSONDecodeError, MalformedAnswer),
    )


def map_error(exc: BaseException, spec: ModelSpec) -> LLMError | None:
    """accord's error for a litellm exception, or None for one it does not know (which the
    caller re-raises: an unknown fault is not a model failure)."""
    for source, target in _error_table():
        if isinstance(exc, source):
            text = str(exc).replace("\n", " ")
            return target(f"{spec.alias} ({spec.model}): {target.__name__}: {text}"[:400])
    return None


def has_list_price(model: str) -> bool:
    """litellm's price map knows ``model`` (a study in USD needs a price for each model)."""
    try:
        litellm().cost_per_token(model=model, prompt_tokens=1, completion_tokens=1)
    except Exception:
        return False
    return True


def count_tokens() -> Callable[[str], int]:
    """Token counts with tiktoken's cl100k_base, from the encodings litellm bundles."""
    encoding: Any = litellm().encoding
    return lambda text: len(encoding.encode(text, disallowed_special=()))


class LiteLLMBackend:
    """Calls any litellm-supported provider; local/<name> models go to accord's own
    llama.cpp servers through their OpenAI-compatible API."""

    def __init__(self, local_base: Callable[[str], str] | None = None) -> None:
        self._local_base = local_base
        self._priced: set[str] = set()
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _client(self, base: str, spec: ModelSpec) -> Any:
        """One HTTP client per local server whose pool keeps a connection alive for every
        call in flight: litellm's default keeps 20, so with more in flight some calls open
        a new connection each time (3-5% of throughput at 32 in flight, measured)."""
        with self._lock:
            if base not in self._clients:
                alive = max(20, spec.concurrency)
                limits = httpx.Limits(max_connections=None, max_keepalive_connections=alive)
                self._clients[base] = http_handler(httpx.Client(limits=limits, timeout=spec.timeout_s))
            return self._clients[base]

    def close(self) -> None:
        """Close the HTTP clients opened for local servers."""
        with self._lock:
            for handler in self._clients.values():
                handler.client.close()
            self._clients.clear()

    def _register_price(self, module: Any, spec: ModelSpec, model: str) -> None:
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
                module.register_model({model: entry})
            except Exception as exc:  # a faster cost look-up is not worth failing a call for
                log.debug("litellm.register_model(%s) failed: %s", model, exc)
            self._priced.add(model)

    @staticmethod
    def _estimated_cost(module: Any, model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
        """litellm's list price for estimated token counts (None: it has no price)."""
        try:
            prompt_cost, completion_cost = module.cost_per_token(
                model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
            )
        except Exception:
            return None
        return float(prompt_cost + completion_cost)

    def _route(self, spec: ModelSpec, kwargs: dict[str, Any]) -> None:
        """Where the call goes: a local server, or the provider litellm knows."""
        if spec.is_local:
            if self._local_base is None:
                raise ConfigError(f"{spec.model}: local models need the local extra and a server")
            name = spec.model.removeprefix(LOCAL_PREFIX)
            # litellm's route for self-hosted OpenAI-compatible servers: plain httpx, about
            # 0.65 ms a call cheaper than its openai/ route through the OpenAI SDK
            base = self._local_base(name)
            client = self._client(base, spec)
            kwargs.update(model=f"hosted_vllm/{name}", api_base=base, api_key="sk-local", client=client)
            return
        if spec.api_base:
            kwargs["api_base"] = spec.api_base
        if spec.api_key_env:
            key = os.environ.get(spec.api_key_env)
            if not key:
                raise ConfigError(
                    f"environment variable {spec.api_key_env} is not set",
                    key=f"models.{spec.alias}.api_key_env",
                )
            kwargs["api_key"] = key

    def __call__(self, spec: ModelSpec, request: LLMRequest) -> RawCompletion:
        module = litellm()
        kwargs: dict[str, Any] = {
            "model": spec.model,
            "messages": [dict(m) for m in request.messages],
            "temperature": request.temperature,
            "top_p": request.top_p,
            "max_tokens": request.max_tokens,
            "seed": request.sample + DRAW_SEED_STRIDE * request.draw,
            "timeout": spec.timeout_s,
            "num_retries": 0,  # the gateway retries, with the same policy for every backend
        }
        self._route(spec, kwargs)
        self._register_price(module, spec, kwargs["model"])
        start = time.perf_counter()
        try:
            response = module.completion(**kwargs)
        except Exception as exc:
            mapped = map_error(exc, spec)
            if mapped is None:
                raise
            raise mapped from exc
        text = _text(response, spec)
        prompt_tokens, completion_tokens, estimated = _usage(response, spec, kwargs["messages"], text)
        cost = None if spec.is_local or spec.priced else _listed_cost(module, response)
        if cost is not None and not (isinstance(cost, int | float) and math.isfinite(cost) and cost >= 0):
            raise MalformedAnswer(f"{spec.alias} ({spec.model}): the provider priced the call at {cost!r}")
        return RawCompletion(
            text=text,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost_usd=self._estimated_cost(module, kwargs["model"], prompt_tokens, completion_tokens)
            if estimated and not spec.priced
            else None
            if cost is None
            else float(cost),
            seconds=time.perf_counter() - start,
            estimated=estimated,
        )


def http_handler(client: httpx.Client) -> Any:
    """litellm's wrapper of an httpx client, which its ``client=`` argument takes on the
    hosted_vllm route. Its module path is litellm's internal; tests/runners/test_gateway_errors.py
    pins that a call goes through the client given."""
    return litellm().llms.custom_httpx.http_handler.HTTPHandler(client=client)


def _listed_cost(module: Any, response: Any) -> float | None:
    """litellm's list price of a response (None: it has none for the model)."""
    try:
        return float(module.completion_cost(completion_response=response))
    except Exception:
        return None


def _text(response: Any, spec: ModelSpec) -> str:
    """The answer's text; an answer without one is malformed (transient: retried)."""
    choices = getattr(response, "choices", None)
    if not choices:
        raise MalformedAnswer(f"{spec.alias} ({spec.model}): the answer holds no choices")
    content = getattr(getattr(choices[0], "message", None), "content", None)
    if content is not None and not isinstance(content, str):
        raise MalformedAnswer(f"{spec.alias} ({spec.model}): the answer's content is not text")
    return content or ""


def _usage(
    response: Any, spec: ModelSpec, messages: list[dict[str, Any]], text: str
) -> tuple[int, int, bool]:
    """(prompt tokens, completion tokens, estimated). Negative or absurd counts are a
    malformed answer; missing counts are estimated with the tokenizer (and the call
    marked), never taken as zero."""
    usage = getattr(response, "usage", None)
    found = [getattr(usage, name, None) for name in ("prompt_tokens", "completion_tokens")]
    counts = [c for c in found if isinstance(c, int) and not isinstance(c, bool)]
    if len(counts) == 2:
        if any(c < 0 or c > MAX_TOKENS_A_CALL for c in counts):
            raise MalformedAnswer(f"{spec.alias} ({spec.model}): the answer reports usage {counts}")
        if counts[0] > 0 and (counts[1] > 0 or not text):  # no prompt is zero tokens
            return counts[0], counts[1], False
    count = count_tokens()
    prompt = sum(count(str(m.get("content", ""))) for m in messages)
    log.warning("%s answered without usable token counts: estimated with a tokenizer", spec.model)
    return prompt, count(text), True
