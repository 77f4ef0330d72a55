"""litellm against a real local HTTP server with scripted failures: mapping and retries."""

from __future__ import annotations

import pytest

from accord.runners.llm import Gateway, LiteLLMBackend, LLMRequest, Meter, ModelSpec
from accord.runners.testing import ScriptedOpenAIServer
from accord.space import (
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

REQUEST = LLMRequest(model="m", messages=({"role": "user", "content": "say hello"},), role="coder")


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCRIPTED_KEY", "sk-test")


@pytest.fixture(params=["openai", "local"])
def route(request: pytest.FixtureRequest) -> str:
    """Both of litellm's routes accord uses: ``openai/`` (the OpenAI SDK) for hosted
    OpenAI-compatible APIs, and the plain-httpx one behind ``local/`` models."""
    return str(request.param)


def gateway(
    server: ScriptedOpenAIServer, route: str = "openai", *, retries: int = 2, timeout_s: float = 5.0
) -> tuple[Gateway, list[float]]:
    spec = ModelSpec(
        alias="m",
        model=f"{route}/scripted",
        api_base=None if route == "local" else server.base_url,
        api_key_env=None if route == "local" else "SCRIPTED_KEY",
        timeout_s=timeout_s,
        max_retries=retries,
        input_cost_per_token=1e-6,
        output_cost_per_token=2e-6,
    )
    backend = LiteLLMBackend(local_base=lambda name: server.base_url)
    sleeps: list[float] = []
    return Gateway({"m": spec}, backend, sleep=sleeps.append, backoff_s=1.0), sleeps


def test_success_reports_usage_and_price(route: str) -> None:
    with ScriptedOpenAIServer([200], text="hi there") as server:
        gw, _ = gateway(server, route)
        completion = gw.complete(REQUEST)
        assert server.models == ["scripted"]
    assert completion.text == "hi there"
    assert (completion.prompt_tokens, completion.completion_tokens) == (2, 2)
    assert completion.cost_usd == pytest.approx(2 * 1e-6 + 2 * 2e-6)
    assert completion.seconds > 0 and not completion.cached


def test_without_a_study_price_the_cost_is_litellms() -> None:
    import litellm

    with ScriptedOpenAIServer([200], text="one two three") as server:
        spec = ModelSpec(
            alias="m", model="openai/gpt-4o-mini", api_base=server.base_url, api_key_env="SCRIPTED_KEY"
        )
        completion = Gateway({"m": spec}, LiteLLMBackend()).complete(REQUEST)
    listed = litellm.model_cost["gpt-4o-mini"]
    assert (completion.prompt_tokens, completion.completion_tokens) == (2, 3)
    assert completion.cost_usd == pytest.approx(
        2 * listed["input_cost_per_token"] + 3 * listed["output_cost_per_token"]
    )
    assert completion.cost_usd > 0


@pytest.mark.parametrize(
    ("status", "error"), [(429, RateLimited), (500, ProviderUnavailable), (503, ProviderUnavailable)]
)
def test_transient_failures_are_retried_with_backoff(status: int, error: type[LLMError], route: str) -> None:
    with ScriptedOpenAIServer([status, status, 200]) as server:
        gw, sleeps = gateway(server, route, retries=2)
        assert gw.complete(REQUEST).text == "hello"
        assert server.requests == 3
    assert len(sleeps) == 2 and 0.5 <= sleeps[0] <= 1.0 and 1.0 <= sleeps[1] <= 2.0
    with ScriptedOpenAIServer([status]) as server:
        gw, sleeps = gateway(server, route, retries=2)
        with pytest.raises(error):
            gw.complete(REQUEST)
        assert server.requests == 3 and len(sleeps) == 2


def test_auth_failure_is_not_retried(route: str) -> None:
    with ScriptedOpenAIServer([401]) as server:
        gw, sleeps = gateway(server, route, retries=3)
        with pytest.raises(AuthFailed, match=f"m \\({route}/scripted\\)"):
            gw.complete(REQUEST)
        assert server.requests == 1 and sleeps == []


def test_missing_key_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SCRIPTED_KEY")
    with ScriptedOpenAIServer([200]) as server:
        gw, _ = gateway(server)
        with pytest.raises(ConfigError, match="SCRIPTED_KEY is not set"):
            gw.complete(REQUEST)
        assert server.requests == 0


def test_hang_past_the_timeout_is_a_timeout(route: str) -> None:
    with ScriptedOpenAIServer(["hang", 200]) as server:
        gw, _ = gateway(server, route, retries=0, timeout_s=0.5)
        with pytest.raises(LLMTimeout):
            gw.complete(REQUEST)
        gw_retry, _ = gateway(server, route, retries=1, timeout_s=0.5)
        assert gw_retry.complete(REQUEST).text == "hello"


def test_malformed_json_is_a_provider_failure(route: str) -> None:
    with ScriptedOpenAIServer(["malformed"]) as server:
        gw, _ = gateway(server, route, retries=1)
        with pytest.raises(ProviderUnavailable):
            gw.complete(REQUEST)
        assert server.requests == 2


def test_context_too_long_is_mapped_and_not_retried() -> None:
    import litellm

    from accord.runners.llm import map_error

    spec = ModelSpec(alias="m", model="openai/x")
    exc = litellm.ContextWindowExceededError(message="too long", model="x", llm_provider="openai")
    assert isinstance(map_error(exc, spec), ContextTooLong)
    assert not ContextTooLong.transient and RateLimited.transient


@pytest.mark.parametrize(
    ("action", "error"),
    [
        ("no_choices", MalformedAnswer),
        ("negative_usage", MalformedAnswer),
        ("list_content", ProviderUnavailable),
    ],
)
def test_a_malformed_answer_is_a_clear_transient_error(route: str, action: str, error: type) -> None:
    # content that is not text litellm itself refuses, as a provider fault
    with ScriptedOpenAIServer([action]) as server:
        gw, sleeps = gateway(server, route, retries=1)
        with pytest.raises(error):
            gw.complete(REQUEST)
        assert server.requests == 2 and len(sleeps) == 1  # retried once, then given up


@pytest.mark.parametrize("action", ["no_usage", "null_content"])
def test_missing_usage_is_counted_with_a_tokenizer_and_marked(route: str, action: str) -> None:
    with ScriptedOpenAIServer([action], text="four words right here") as server:
        gw, _ = gateway(server, route)
        meter = Meter()
        completion = gw.complete(REQUEST, meter=meter)
    assert completion.estimated and meter.estimated_calls == 1
    assert completion.prompt_tokens > 0  # never a silent zero
    if action == "no_usage":
        assert completion.completion_tokens == 4 and completion.cost_usd > 0


def test_a_400_is_not_retried(route: str) -> None:
    with ScriptedOpenAIServer([400, 200]) as server:
        gw, sleeps = gateway(server, route)
        with pytest.raises(RequestRejected):
            gw.complete(REQUEST)
        assert server.requests == 1 and sleeps == []


def test_a_local_call_goes_through_the_http_client_accord_gives_litellm() -> None:
    """Pins litellm's internal HTTPHandler (provider.http_handler): its hosted_vllm route
    must send the call through the client passed as ``client=``, or accord's connection
    pool per local server is not the one used."""
    import httpx

    from accord.runners.llm.provider import http_handler, litellm

    sent: list[str] = []
    client = httpx.Client(event_hooks={"request": [lambda r: sent.append(str(r.url))]})
    with ScriptedOpenAIServer([200], text="hi") as server:
        response = litellm().completion(
            model="hosted_vllm/scripted",
            messages=[{"role": "user", "content": "hello"}],
            api_base=server.base_url,
            api_key="sk-local",
            client=http_handler(client),
        )
    assert response.choices[0].message.content == "hi"
    assert sent == [f"{server.base_url}/chat/completions"]
