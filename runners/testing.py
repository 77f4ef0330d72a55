"""Test doubles that ship with accord: a scripted model backend and helpers.

Like httpx's MockTransport, the double sits at the I/O boundary (the Backend), so the
gateway's cache and accounting, the loop and the objective all run for real on it.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

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


class _Server(ThreadingHTTPServer):
    request_queue_size = 128
    """socketserver's default listen backlog of 5 resets connections when many clients
    connect at once, as a provider's front end would not."""


class ScriptedOpenAIServer:
    """An OpenAI-compatible chat endpoint on 127.0.0.1 that answers from a script.

    Each request takes the next action of ``script`` (the last one repeats): an int is an
    HTTP status with an error body (200 answers normally), ``"hang"`` sleeps past any
    client time-out, ``"malformed"`` sends a 200 whose body is not JSON, and these send
    a 200 with one thing wrong: ``"no_choices"`` (an empty choices list), ``"no_usage"``
    (no token counts), ``"negative_usage"``, ``"null_content"`` (content null, no
    usage) and ``"list_content"`` (content that is not text). ``delay_s`` sleeps before
    every answer (a slow provider). Use as a context manager.
    """

    def __init__(
        self,
        script: Sequence[int | str] = (200,),
        *,
        delay_s: float = 0.0,
        text: str = "hello",
        answer: Callable[[list[dict[str, str]]], str] | None = None,
    ) -> None:
        self.script = list(script)
        self.delay_s = delay_s
        self.text = text
        self.answer = answer
        """When given, the reply to each request is ``answer(messages)`` instead of ``text``."""
        self.requests = 0
        self.models: list[str] = []
        """The ``model`` field of each request answered normally, in order."""
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def _next(self) -> int | str:
        with self._lock:
            index = min(self.requests, len(self.script) - 1)
            self.requests += 1
            return self.script[index]

    def __enter__(self) -> ScriptedOpenAIServer:
        self._server = _Server(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def answer_body(self, action: int | str, body: dict[str, Any]) -> dict[str, Any]:
        """The JSON answer to a request whose action is to answer (200 or a 200 with one
        thing wrong)."""
        messages = body.get("messages", [])
        with self._lock:
            self.models.append(str(body.get("model")))
        text = self.answer(messages) if self.answer else self.text
        words = sum(len(str(m.get("content", "")).split()) for m in messages)
        answer: dict[str, Any] = {
            "id": "scripted",
            "object": "chat.completion",
            "created": 0,
            "model": body.get("model", "scripted"),
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            ],
            "usage": {
                "prompt_tokens": words,
                "completion_tokens": len(text.split()),
                "total_tokens": words + len(text.split()),
            },
        }
        if action == "no_choices":
            answer["choices"] = []
        elif action == "no_usage":
            del answer["usage"]
        elif action == "negative_usage":
            answer["usage"] = {"prompt_tokens": -5, "completion_tokens": -7, "total_tokens": -12}
        elif action == "null_content":
            answer["choices"][0]["message"]["content"] = None
            del answer["usage"]
        elif action == "list_content":
            answer["choices"][0]["message"]["content"] = [{"oops": 1}]
        return answer

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def _handler(owner: ScriptedOpenAIServer) -> type[BaseHTTPRequestHandler]:
    """The request handler of one scripted server."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
            action = owner._next()
            if owner.delay_s:
                time.sleep(owner.delay_s)
            if action == "hang":
                time.sleep(30)
                return
            if action == "malformed":
                self._send(200, b"{not json")
                return
            if isinstance(action, int) and action != 200:
                error = {"error": {"message": f"scripted failure {action}", "type": "error", "code": action}}
                self._send(int(action), json.dumps(error).encode())
                return
            self._send(200, json.dumps(owner.answer_body(action, body)).encode())

        def _send(self, status: int, payload: bytes) -> None:
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


def toy_tasks(n: int) -> list[dict[str, Any]]:
    """``n`` distinct toy tasks as user task-file rows: ``add1`` .. ``addN``, where
    ``addK(a, b)`` returns a + b + K, each with hidden tests (for benchmarks that need
    many tasks a scripted model can solve; see ``solving_answer``)."""
    return [
        {
            "task_id": f"toy/add{k}",
            "prompt": f'def add{k}(a: int, b: int) -> int:\n    """Return a + b + {k}."""\n',
            "tests": [f"assert add{k}(2, 3) == {5 + k}", f"assert add{k}(-1, 1) == {k}"],
        }
        for k in range(1, n + 1)
    ]


def solving_answer(messages: list[dict[str, str]]) -> str:
    """An OpenAI-style answer for the toy tasks of accord's tests (``add``, ``rev``) and
    of ``toy_tasks`` (``addK``), chosen from the prompt: tests for the tester, correct
    code otherwise. Lets worker processes, which cannot share a ScriptedBackend, run
    studies over real HTTP."""
    system = messages[0].get("content", "") if messages else ""
    prompt = messages[-1].get("content", "") if messages else ""
    found = re.search(r"def (add|rev)(\d*)\(", prompt)
    name, k = (found.group(1), int(found.group(2) or 0)) if found else ("rev", 0)
    function = f"{name}{k or ''}"
    if "tester" in system:
        if name == "add":
            cases = [((2, 3), 5 + k), ((0, 0), k), ((-2, 7), 5 + k)]
            return fenced("\n".join(f"assert {function}{args} == {value}" for args, value in cases))
        return fenced("assert rev('ab') == 'ba'\nassert rev('abc') == 'cba'\nassert rev('x') == 'x'")
    if name == "add":
        return fenced(f"def {function}(a, b):\n    return a + b{f' + {k}' if k else ''}")
    return fenced("def rev(s):\n    return s[::-1]")
