"""Gateway overhead, cache-hit latency and concurrent throughput, against local endpoints.

- overhead: the mean latency of Gateway.complete (litellm underneath, no cache) minus
  that of a raw HTTP POST of the same request to the same zero-latency endpoint
  (accord.runners.testing.ScriptedOpenAIServer on 127.0.0.1, in its own process),
  measured in this run;
  accord_share_ms is the part that is accord's own (gateway minus litellm called directly);
- cache hit: the mean latency of Gateway.complete answered by the response cache;
- throughput: calls per second against an endpoint that sleeps 200 ms per call, with 32
  calls in flight (max_concurrent = 32), as a share of the ideal 32 / 0.2 = 160 calls/s.

    python benchmarks/gateway.py [--calls N] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from accord.runners.llm import Gateway, LiteLLMBackend, LLMRequest, ModelSpec, ResponseCache

MESSAGES = ({"role": "user", "content": "Write a function add(a, b)."},)


def spec(server: ServerProcess, **extra: object) -> ModelSpec:
    return ModelSpec(
        alias="m",
        model="openai/bench",
        api_base=server.base_url,
        api_key_env="BENCH_KEY",
        input_cost_per_token=1e-6,
        output_cost_per_token=1e-6,
        **extra,  # type: ignore[arg-type]
    )


class ServerProcess:
    """A ScriptedOpenAIServer in its own process, so it does not share our GIL."""

    def __init__(self, delay_s: float = 0.0) -> None:
        code = (
            "import sys\nfrom accord.runners.testing import ScriptedOpenAIServer\n"
            f"with ScriptedOpenAIServer([200], delay_s={delay_s}) as s:\n"
            "    print(s.base_url, flush=True)\n    sys.stdin.read()\n"
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        self.base_url = self.proc.stdout.readline().strip()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(10)


def mean_ms(run: object, calls: int) -> float:
    start = time.perf_counter()
    for i in range(calls):
        run(i)  # type: ignore[operator]
    return (time.perf_counter() - start) / calls * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300, help="calls per latency measurement")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    os.environ["BENCH_KEY"] = "sk-bench"
    report: dict[str, float] = {}
    with ServerProcess() as server, tempfile.TemporaryDirectory() as tmp:
        client = httpx.Client()
        body = {"model": "bench", "messages": list(MESSAGES)}
        url = f"{server.base_url}/chat/completions"
        live = Gateway({"m": spec(server)}, LiteLLMBackend())
        cached = Gateway({"m": spec(server)}, LiteLLMBackend(), cache=ResponseCache(Path(tmp) / "c.sqlite"))

        def raw(i: int) -> None:
            client.post(url, json=body).raise_for_status()

        backend = LiteLLMBackend()
        direct_spec = spec(server)

        def litellm_direct(i: int) -> None:
            backend(direct_spec, LLMRequest(model="m", messages=MESSAGES, sample=i))

        def through_gateway(i: int) -> None:
            live.complete(LLMRequest(model="m", messages=MESSAGES, sample=i))

        def cache_hit(i: int) -> None:
            cached.complete(LLMRequest(model="m", messages=MESSAGES, sample=0))

        for warm in (raw, litellm_direct, through_gateway, cache_hit):
            mean_ms(warm, 20)
        # interleave the measurements so machine noise hits them alike
        raw_ms, direct_ms, gateway_ms = [], [], []
        for _ in range(3):
            raw_ms.append(mean_ms(raw, args.calls // 3))
            direct_ms.append(mean_ms(litellm_direct, args.calls // 3))
            gateway_ms.append(mean_ms(through_gateway, args.calls // 3))
        report["raw_http_ms"] = round(sum(raw_ms) / 3, 3)
        report["litellm_ms"] = round(sum(direct_ms) / 3, 3)
        report["gateway_ms"] = round(sum(gateway_ms) / 3, 3)
        report["overhead_ms"] = round(report["gateway_ms"] - report["raw_http_ms"], 3)
        report["accord_share_ms"] = round(report["gateway_ms"] - report["litellm_ms"], 3)
        report["cache_hit_ms"] = round(mean_ms(cache_hit, args.calls), 3)
    with ServerProcess(delay_s=0.2) as slow:
        gateway = Gateway({"m": spec(slow, max_concurrent=32, timeout_s=30.0)}, LiteLLMBackend())
        n = 320
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=32) as pool:
            list(
                pool.map(
                    lambda i: gateway.complete(LLMRequest(model="m", messages=MESSAGES, sample=i)), range(n)
                )
            )
        rate = n / (time.perf_counter() - start)
        report["throughput_per_s"] = round(rate, 1)
        report["throughput_share_of_ideal"] = round(rate / (32 / 0.2), 3)
    if args.json:
        print(json.dumps(report))
        return
    for key, value in report.items():
        print(f"{key:>26}: {value}")
    print(
        f"targets: overhead <= 2 ms: {'met' if report['overhead_ms'] <= 2 else 'NOT met'}; "
        f"throughput >= 90% of ideal: {'met' if report['throughput_share_of_ideal'] >= 0.9 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
