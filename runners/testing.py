"""Test doubles that ship with accord: a scripted model backend and helpers.

Like httpx's MockTransport, the double sits at the I/O boundary (the Backend), so the
gateway's cache and accounting, the loop and the objective all run for real on it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from accord.runners.llm import LLMRequest, ModelSpec, RawCompletion

Script = Callable[[LLMRequest], str]


def _count(text: str) -> int:
    return max(1, len(text.split()))


class ScriptedBackend:
    """Answers each request with ``script(request)``; tokens are whitespace-separated words.

    ``calls`` records every request that reached the backend (cache hits never do).
    """

    def __init__(self, script: Script, *, cost_per_token: float = 1e-6) -> None:
        self.script = script
        self.cost_per_token = cost_per_token
        self.calls: list[LLMRequest] = []

    def __call__(self, spec: ModelSpec, request: LLMRequest) -> RawCompletion:
        self.calls.append(request)
        text = self.script(request)
        prompt_tokens = sum(_count(m["content"]) for m in request.messages)
        completion_tokens = _count(text)
        return RawCompletion(
            text=text,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost_usd=(prompt_tokens + completion_tokens) * self.cost_per_token,
        )


def by_role(answers: Mapping[str, str | Callable[[LLMRequest], str]]) -> Script:
    """A script answering per role (``coder``, ``tester``, ``repair``); a value may be a
    function of the request, e.g. to answer per model or per sample."""

    def script(request: LLMRequest) -> str:
        answer = answers.get(request.role, "")
        return answer(request) if callable(answer) else answer

    return script


def fenced(code: str) -> str:
    """A chatty answer with the code in a fenced block, as instruct models reply."""
    return f"Here is the solution.\n\n```python\n{code.strip()}\n```\n\nIt handles the examples."
