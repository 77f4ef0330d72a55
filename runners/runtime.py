"""The live dependencies of a run (gateway, local model servers, sandbox), built from the
models a study declares and torn down on exit."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from accord.runners.llm import Backend, Gateway, LiteLLMBackend, ModelSpec, PrefixRouter, ResponseCache
from accord.runners.llm.local import LocalServers
from accord.runners.llm.paths import responses_path
from accord.runners.llm.replay import PREFIX, ReplayBackend
from accord.runners.sandbox import SANDBOX_WORKERS, Executor, Sandbox


@dataclass(frozen=True, slots=True)
class Runtime:
    gateway: Gateway
    executor: Executor


@contextlib.contextmanager
def open_runtime(
    models: Mapping[str, ModelSpec],
    *,
    use_cache: bool = True,
    backend: Backend | None = None,
    executor: Executor | None = None,
    sandbox_workers: int = SANDBOX_WORKERS,
) -> Iterator[Runtime]:
    """Local servers start lazily, on a model's first call, and always stop here."""
    with LocalServers() as servers, contextlib.ExitStack() as stack:
        if backend is None:
            provider = LiteLLMBackend(servers.base_url)
            closing = getattr(provider, "close", None)  # its HTTP clients, one per local server
            if closing is not None:  # (a test's scripted stand-in has none)
                stack.callback(closing)
            backend = PrefixRouter({PREFIX: ReplayBackend()}, provider)
        gateway = Gateway(models, backend, cache=ResponseCache(responses_path()) if use_cache else None)
        sandbox = executor or stack.enter_context(Sandbox(workers=sandbox_workers))
        yield Runtime(gateway=gateway, executor=sandbox)
