"""Where a study's generation time goes, from its transcripts, and what stop sequences
on code answers would save and which extracted answers they would change.

    python benchmarks/transcript_tokens.py studies/runs/quickstart-artifacts [--json]

For every model call a study made (the transcripts its trials stored as artifacts), it
prints per stage: calls, completion tokens (median, 90th percentile, largest), the share
that stopped at max_tokens, and seconds. Then, for each candidate stop sequence of code
answers, how many answers it would cut, how many of those would extract different code
(compared as syntax trees, so comments and blank lines do not count; a stop that changes
one changes the method), and the share of completion tokens cut (estimated by the share
of characters).
"""

from __future__ import annotations

import argparse
import ast
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from accord.runners.tasks import load_tasks
from accord.runners.tasks.extract import extract_code

CODE_STAGES = ("code", "repair")

CODE_STOPS = ("\nprint(", "\nif __name__", "\nassert ", "\n# Example usage")
"""Candidate stop sequences for code answers: line starts that usually begin demo code
after the function. Measured, not used: a chain-of-thought or repair answer may show an
assert or a print before its code, extraction keeps top-level assignments after demo
code, and OpenAI's o3 and o4-mini reject ``stop``."""


def cut(text: str, stops: tuple[str, ...]) -> str:
    """``text`` as a server would have returned it with ``stops``."""
    end = len(text)
    for stop in stops:
        at = text.find(stop)
        if 0 <= at < end:
            end = at
    return text[:end]


def calls(folder: Path) -> list[dict[str, Any]]:
    found = []
    for path in sorted(folder.iterdir()):
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith('{"kind": "call"'):
                found.append(json.loads(line))
    return found


def stage_table(rows: list[dict[str, Any]], max_tokens: int) -> dict[str, dict[str, float]]:
    by_stage: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if not row["cached"]:
            by_stage[row["stage"]].append(row)
    table = {}
    for stage, group in sorted(by_stage.items()):
        tokens = sorted(r["completion_tokens"] for r in group)
        table[stage] = {
            "calls": len(group),
            "completion_median": statistics.median(tokens),
            "completion_p90": tokens[int(0.9 * (len(tokens) - 1))],
            "completion_max": tokens[-1],
            "at_max_tokens": sum(t >= max_tokens for t in tokens) / len(tokens),
            "seconds": round(sum(r["seconds"] for r in group), 1),
            "completion_tokens": sum(tokens),
        }
    return table


def _tree(code: str | None) -> str | None:
    return None if code is None else ast.dump(ast.parse(code))


def stop_effects(rows: list[dict[str, Any]], stops: tuple[str, ...]) -> dict[str, Any]:
    tasks = {t.task_id: t for t in load_tasks("humaneval")}
    code_rows = [r for r in rows if r["stage"] in CODE_STAGES and not r["cached"] and r["task_id"] in tasks]
    effects: dict[str, Any] = {}
    for label, chosen in [*((repr(s), (s,)) for s in stops), ("all", stops)]:
        cut_count = changed = 0
        saved = total = 0.0
        for row in code_rows:
            task, text = tasks[row["task_id"]], row["response"]
            short = cut(text, chosen)
            total += row["completion_tokens"]
            if short == text:
                continue
            cut_count += 1
            saved += row["completion_tokens"] * (1 - len(short) / max(1, len(text)))
            full_code = extract_code(text, prompt=task.prompt, entry_point=task.entry_point)
            short_code = extract_code(short, prompt=task.prompt, entry_point=task.entry_point)
            changed += _tree(short_code) != _tree(full_code)
        effects[label] = {
            "answers": len(code_rows),
            "cut": cut_count,
            "extracted_code_changed": changed,
            "token_share_cut": round(saved / total, 3) if total else 0.0,
        }
    return effects


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="a study's artifact folder (studies/runs/NAME-artifacts)")
    parser.add_argument("--max-tokens", type=int, default=320, help="the study's loop.max_tokens")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = calls(args.folder)
    if not rows:
        print(f"no model calls in {args.folder}", file=sys.stderr)
        return 1
    result = {"stages": stage_table(rows, args.max_tokens), "stops": stop_effects(rows, CODE_STOPS)}
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    print(f"{'stage':<10} {'calls':>5} {'median':>6} {'p90':>5} {'max':>5} {'at max':>6} {'seconds':>8}")
    for stage, row in result["stages"].items():
        print(
            f"{stage:<10} {row['calls']:>5} {row['completion_median']:>6} {row['completion_p90']:>5} "
            f"{row['completion_max']:>5} {row['at_max_tokens']:>6.0%} {row['seconds']:>8}"
        )
    print(f"\n{'stop':<22} {'answers':>7} {'cut':>4} {'changed':>7} {'tokens cut':>10}")
    for label, row in result["stops"].items():
        print(
            f"{label:<22} {row['answers']:>7} {row['cut']:>4} {row['extracted_code_changed']:>7} "
            f"{row['token_share_cut']:>10.1%}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
