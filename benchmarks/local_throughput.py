"""Batched local inference: llama.cpp's own server against today's, tokens per second.

Today's local models are served by llama-cpp-python's server, one request at a time.
llama.cpp's ``llama-server`` batches requests in flight (``--parallel 4``). Both serve
Qwen2.5-Coder-0.5B (accord's own weights, sha256-checked) with 2 threads on 127.0.0.1;
both are started first and left idle side by side, then each level of 1, 2 and 4
requests in flight is measured in ABBA order (today, new, new, today), so a slow drift
of the machine's load hits both alike. Each measurement is a closed loop of
``--requests`` distinct code-writing prompts at temperature 0, ``--max-tokens`` each;
aggregate throughput is completion tokens over wall time.

It also checks what batching does to answers, since accord's results must not depend on
how many calls are in flight: a population sends one prompt with different seeds at once.
For each server: (a) one request twice, alone; (b) four requests of one prompt with
seeds 0-3, in flight together, against each sent alone.

Build llama-server first (about 10 minutes): ``benchmarks/build_llama_server.sh``.

    python benchmarks/local_throughput.py [--reps 2] [--requests 8] [--max-tokens 128] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from accord.runners.llm.local import LocalServers, ensure_model
from accord.runners.procutil import die_with_parent, free_port

MODEL = "qwen2.5-coder-0.5b"
LLAMA_SERVER = Path(__file__).resolve().parent / "llama-server" / "llama-server"
TASKS = [
    "returns the n-th Fibonacci number",
    "checks whether a string is a palindrome",
    "returns the greatest common divisor of two integers",
    "flattens a nested list of integers",
    "counts the vowels in a string",
    "returns the prime factors of an integer",
    "merges two sorted lists into one sorted list",
    "reverses the words in a sentence",
    "converts a Roman numeral to an integer",
    "removes duplicates from a list while keeping order",
    "transposes a matrix given as a list of lists",
    "checks whether two strings are anagrams",
]


def chat(
    url: str, prompt: str, *, max_tokens: int, temperature: float = 0.0, seed: int = 0
) -> dict[str, Any]:
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": max_tokens,
        "temperature": temperature,
        "seed": seed,
    }
    request = urllib.request.Request(
        f"{url}/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=900) as response:
        return dict(json.loads(response.read()))


def text(answer: dict[str, Any]) -> str:
    return str(answer["choices"][0]["message"]["content"])


def level(url: str, in_flight: int, requests: int, max_tokens: int, shift: int) -> dict[str, Any]:
    prompts = [
        f"Write a Python function that {TASKS[(i + shift) % len(TASKS)]}. Include a docstring."
        for i in range(requests)
    ]
    start = time.perf_counter()
    with ThreadPoolExecutor(in_flight) as pool:
        answers = list(pool.map(lambda p: chat(url, p, max_tokens=max_tokens), prompts))
    wall = time.perf_counter() - start
    tokens = sum(int(a["usage"]["completion_tokens"]) for a in answers)
    return {"tokens": tokens, "seconds": round(wall, 2), "tok_s": round(tokens / wall, 2)}


def reproducible(url: str, max_tokens: int) -> dict[str, Any]:
    prompt = "Write a Python function that returns the n-th triangular number. Include a docstring."
    first = text(chat(url, prompt, max_tokens=max_tokens, temperature=0.8, seed=7))
    second = text(chat(url, prompt, max_tokens=max_tokens, temperature=0.8, seed=7))
    alone = [text(chat(url, prompt, max_tokens=max_tokens, temperature=0.8, seed=s)) for s in range(4)]
    with ThreadPoolExecutor(4) as pool:
        together = list(
            pool.map(
                lambda s: text(chat(url, prompt, max_tokens=max_tokens, temperature=0.8, seed=s)), range(4)
            )
        )
    return {
        "same_request_twice_equal": first == second,
        "population_of_4_in_flight_equal_alone": [a == b for a, b in zip(alone, together, strict=True)],
    }


class LlamaServer:
    def __init__(self, binary: Path, parallel: int, threads: int, n_ctx: int) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        command = [
            str(binary), "-m", str(ensure_model(MODEL)), "--alias", MODEL, "--host", "127.0.0.1",
            "--port", str(self.port), "--parallel", str(parallel), "-c", str(n_ctx * parallel),
            "-t", str(threads), "-tb", str(threads),
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=die_with_parent
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/models", timeout=2):
                    return
            except OSError:
                time.sleep(0.2)
        self.close()
        raise SystemExit("llama-server did not start")

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=20)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=2, help="ABBA pairs per level")
    parser.add_argument("--requests", type=int, default=8, help="requests per measurement")
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--parallel", type=int, default=4, help="llama-server's slots")
    parser.add_argument("--llama-server", type=Path, default=LLAMA_SERVER)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    if not args.llama_server.exists():
        print(f"{args.llama_server} not found: run benchmarks/build_llama_server.sh first", file=sys.stderr)
        return 2
    load_before = os.getloadavg()[0]
    with LocalServers(threads=2) as servers:
        servers_url = {"today": servers.base_url(MODEL)}
        new = LlamaServer(args.llama_server, args.parallel, threads=2, n_ctx=4096)
        servers_url["batched"] = new.url
        try:
            for url in servers_url.values():  # warm both up: weights paged in, first prompt done
                chat(url, "Say hi.", max_tokens=4)
            samples: dict[str, dict[int, list[float]]] = {name: {} for name in servers_url}
            for in_flight in (1, 2, 4):
                for rep in range(args.reps):
                    for name in ("today", "batched", "batched", "today"):
                        shift = rep * 4 + len(samples[name].get(in_flight, []))
                        got = level(servers_url[name], in_flight, args.requests, args.max_tokens, shift)
                        samples[name].setdefault(in_flight, []).append(got["tok_s"])
                        print(f"{name} at {in_flight}: {got}", file=sys.stderr)
            checks = {name: reproducible(url, 64) for name, url in servers_url.items()}
        finally:
            new.close()
    tok_s = {
        name: {n: round(statistics.median(v), 2) for n, v in levels.items()}
        for name, levels in samples.items()
    }
    report = {
        "model": MODEL,
        "requests": args.requests,
        "max_tokens": args.max_tokens,
        "parallel": args.parallel,
        "load_before": round(load_before, 2),
        "load_after": round(os.getloadavg()[0], 2),
        "tok_s": tok_s,
        "samples": samples,
        "ratio_at": {n: round(tok_s["batched"][n] / tok_s["today"][n], 2) for n in (1, 2, 4)},
        "batched_at_4_over_today_at_1": round(tok_s["batched"][4] / tok_s["today"][1], 2),
        "reproducibility": checks,
    }
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"{MODEL}, {args.requests} requests of {args.max_tokens} tokens, medians of {2 * args.reps} runs")
    print(f"{'in flight':>9} {'today tok/s':>11} {'batched tok/s':>13} {'ratio':>6}")
    for n in (1, 2, 4):
        print(f"{n:>9} {tok_s['today'][n]:>11} {tok_s['batched'][n]:>13} {report['ratio_at'][n]:>6}")
    print(f"batched at 4 / today at 1: {report['batched_at_4_over_today_at_1']}")
    for name, check in checks.items():
        print(f"{name}: {check}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
