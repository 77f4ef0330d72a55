"""Server options for the local models, measured on a study's own calls.

    python benchmarks/local_speedups.py studies/runs/quickstart-artifacts [--calls 12] [--json]

Replays the first ``--calls`` uncached calls of a study's transcripts (the same
messages, temperature, top_p, max_tokens and seed) against llama-cpp-python's server for
each variant in ``VARIANTS``, in ABBA order so that drift on a shared machine falls on
every variant alike. Prints completion tokens per second of wall time for each variant,
its ratio to the first, and how many answers came back the same text as the first
variant gave.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from accord.runners.llm.local import LocalServers

sys.path.insert(0, str(Path(__file__).parent))
from transcript_tokens import calls

VARIANTS: dict[str, tuple[str, ...]] = {
    "plain": (),
    "prompt-lookup": ("--draft_model", "prompt-lookup-decoding", "--draft_model_num_pred_tokens", "10"),
}


def replay(url: str, rows: list[dict[str, Any]], max_tokens: int) -> tuple[float, int, list[str]]:
    texts, tokens = [], 0
    start = time.perf_counter()
    with httpx.Client(timeout=600) as client:
        for row in rows:
            body = {
                "model": "m",
                "messages": row["messages"],
                "temperature": 0.2,
                "top_p": 1.0,
                "max_tokens": max_tokens,
                "seed": row["sample"],
            }
            answer = client.post(f"{url}/chat/completions", json=body).json()
            texts.append(answer["choices"][0]["message"]["content"])
            tokens += answer["usage"]["completion_tokens"]
    return time.perf_counter() - start, tokens, texts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--calls", type=int, default=12)
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--alias", default="qwen", help="the model's alias in the study")
    parser.add_argument("--max-tokens", type=int, default=320)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = [r for r in calls(args.folder) if not r["cached"] and r["model"] == args.alias][: args.calls]
    results: dict[str, dict[str, Any]] = {}
    order = [*VARIANTS, *reversed(VARIANTS)]
    for name in order:
        servers = LocalServers(extra_args=VARIANTS[name])
        try:
            seconds, tokens, texts = replay(servers.base_url(args.model), rows, args.max_tokens)
        finally:
            servers.close()
        entry = results.setdefault(name, {"seconds": 0.0, "tokens": 0, "texts": texts})
        entry["seconds"] += seconds
        entry["tokens"] += tokens
        print(f"{name}: {tokens} tokens in {seconds:.1f} s", file=sys.stderr)
    first = next(iter(VARIANTS))
    summary = {}
    for name, entry in results.items():
        rate = entry["tokens"] / entry["seconds"]
        summary[name] = {
            "tokens_per_s": round(rate, 2),
            "ratio": round(rate / (results[first]["tokens"] / results[first]["seconds"]), 3),
            "same_text": sum(a == b for a, b in zip(entry["texts"], results[first]["texts"], strict=True)),
            "calls": len(rows),
        }
    print(json.dumps(summary, indent=1) if args.json else "\n".join(f"{k}: {v}" for k, v in summary.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
