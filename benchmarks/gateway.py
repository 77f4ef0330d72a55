"""Gateway overhead, cache-hit latency and concurrent throughput, against local endpoints.

Two routes through litellm are measured, as accord uses both:
- ``local``: how accord reaches its own llama.cpp servers (``local/<name>`` models),
  litellm's plain-httpx handler for self-hosted OpenAI-compatible servers
  (``hosted_vllm/``);
- ``openai``: ``openai/<name>`` with an ``api_base``, litellm's route through the OpenAI
  SDK, as for hosted OpenAI-compatible APIs.

- overhead: the mean latency of Gateway.complete (no cache) minus that of a raw HTTP POST
  of the same request to the same zero-latency endpoint
  (accord.runners.testing.ScriptedOpenAIServer on 127.0.0.1, in its own process),
  interleaved in one run; ``accord_share`` is the part that is accord's own (the gateway
  minus litellm called directly on the same route);
- cache hit: the mean latency of Gateway.complete answered by the response cache;
- throughput: steady-state calls per second against an endpoint that sleeps 200 ms per
  call, with 32 threads each calling in a loop (max_concurrent = 32), counted over a
  window that starts after one second of warm-up, as a share of the ideal
  32 / 0.2 = 160 calls/s. The target is judged on it. For comparison,
  ``burst_<route>_share_of_ideal`` times a cold burst instead: 320 calls submitted at
  once to a fresh gateway, ramp-up (32 threads opening their connections together) and
  drain included.

    python benchmarks/gateway.py [--calls N] [--window S] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from accord.runners.llm import Gateway, LiteLLMBackend, LLMRequest, ModelSpec, ResponseCache

MESSAGES = ({"role": "user", "content": "Write a function add(a, b)."},)


ROUTES = ("local", "openai")


def spec(route: str, server: ServerProcess, **extra: object) -> ModelSpec:
    local = route == "local"
    return ModelSpec(
        alias="m",
        model=f"{route}/bench",
        api_base=None if local else server.base_url,
        api_key_env=None if local else "BENCH_KEY",
        input_cost_per_token=1e-6,
        output_cost_per_token=1e-6,
        **extra,  # type: ignore[arg-type]
    )


def backend(server: ServerProcess) -> LiteLLMBackend:
    return LiteLLMBackend(local_base=lambda name: server.base_url)


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


def mean_ms(run: Callable[[int], object], calls: int) -> float:
    start = time.perf_counter()
    for i in range(calls):
        run(i)
    return (time.perf_counter() - start) / calls * 1000


def request(i: int) -> LLMRequest:
    return LLMRequest(model="m", messages=MESSAGES, sample=i)


def latencies(calls: int) -> dict[str, float]:
    report: dict[str, float] = {}
    with ServerProcess() as server, tempfile.TemporaryDirectory() as tmp:
        client = httpx.Client()
        body = {"model": "bench", "messages": list(MESSAGES)}
        url = f"{server.base_url}/chat/completions"

        def raw(i: int) -> None:
            client.post(url, json=body).raise_for_status()

        runs: dict[str, Callable[[int], object]] = {"raw_http": raw}
        for route in ROUTES:
            direct, direct_spec = backend(server), spec(route, server)
            gateway = Gateway({"m": spec(route, server)}, backend(server))
            runs[f"litellm_{route}"] = lambda i, b=direct, s=direct_spec: b(s, request(i))
            runs[f"gateway_{route}"] = lambda i, g=gateway: g.complete(request(i))
        cache = ResponseCache(Path(tmp) / "c.sqlite")
        cached = Gateway({"m": spec("local", server)}, backend(server), cache=cache)
        for run in runs.values():
            mean_ms(run, 20)
        # interleave the measurements so machine noise hits them alike
        samples: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(3):
            for name, run in runs.items():
                samples[name].append(mean_ms(run, calls // 3))
        means = {name: sum(values) / len(values) for name, values in samples.items()}
        report["raw_http_ms"] = round(means["raw_http"], 3)
        for route in ROUTES:
            report[f"litellm_{route}_ms"] = round(means[f"litellm_{route}"], 3)
            gateway_ms = means[f"gateway_{route}"]
            report[f"gateway_{route}_ms"] = round(gateway_ms, 3)
            report[f"overhead_{route}_ms"] = round(gateway_ms - means["raw_http"], 3)
            report[f"accord_share_{route}_ms"] = round(gateway_ms - means[f"litellm_{route}"], 3)
        mean_ms(lambda i: cached.complete(request(0)), 1)
        report["cache_hit_ms"] = round(mean_ms(lambda i: cached.complete(request(0)), calls), 3)
    return report


def throughput(route: str, window_s: float, warmup_s: float = 1.0, in_flight: int = 32) -> float:
    """Steady-state calls per second with ``in_flight`` threads calling in a loop."""
    with ServerProcess(delay_s=0.2) as slow:
        gateway = Gateway({"m": spec(route, slow, max_concurrent=in_flight, timeout_s=30.0)}, backend(slow))
        done: list[float] = []
        counter = iter(range(10**9))
        stop = time.perf_counter() + warmup_s + window_s

        def worker() -> None:
            while time.perf_counter() < stop:
                gateway.complete(request(next(counter)))
                done.append(time.perf_counter())

        start = time.perf_counter()
        threads = [threading.Thread(target=worker) for _ in range(in_flight)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        begin = start + warmup_s
        return sum(begin <= t < begin + window_s for t in done) / window_s


def burst(route: str, calls: int = 320, in_flight: int = 32) -> float:
    """Calls per second for a cold burst of ``calls`` submitted at once."""
    with ServerProcess(delay_s=0.2) as slow:
        gateway = Gateway({"m": spec(route, slow, max_concurrent=in_flight, timeout_s=30.0)}, backend(slow))
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=in_flight) as pool:
            list(pool.map(lambda i: gateway.complete(request(i)), range(calls)))
        return calls / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300, help="calls per latency measurement")
    parser.add_argument("--window", type=float, default=4.0, help="seconds of throughput measurement")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    os.environ["BENCH_KEY"] = "sk-bench"
    report = latencies(args.calls)
    ideal = 32 / 0.2
    for route in ROUTES:
        rate = throughput(route, args.window)
        report[f"throughput_{route}_per_s"] = round(rate, 1)
        report[f"throughput_{route}_share_of_ideal"] = round(rate / ideal, 3)
        report[f"burst_{route}_share_of_ideal"] = round(burst(route) / ideal, 3)
    if args.json:
        print(json.dumps(report))
        return
    for key, value in report.items():
        print(f"{key:>32}: {value}")
    for route in ROUTES:
        overhead = "met" if report[f"overhead_{route}_ms"] <= 2 else "NOT met"
        share = "met" if report[f"throughput_{route}_share_of_ideal"] >= 0.9 else "NOT met"
        print(f"{route} route: overhead <= 2 ms: {overhead}; throughput >= 90% of ideal: {share}")


if __name__ == "__main__":
    main()
