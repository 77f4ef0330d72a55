#!/bin/sh
# Batched local inference on the quick start's own calls: studies/quickstart.toml run
# (accord run, then accord confirm --top 2) against llama.cpp's own server (built by
# benchmarks/build_llama_server.sh) with 1 slot and with 4, in ABBA order, each from an
# empty response cache. Prints the wall time and completion tokens per second of wall
# time of each run. About 10 minutes on 2 cores.
#
#     sh benchmarks/quickstart_batching.sh > benchmarks/results/quickstart-batching.txt
set -eu
HERE="$(cd "$(dirname "$0")" && pwd)"
SERVER="$HERE/llama-server/llama-server"
MODELS="${ACCORD_MODELS:-$HOME/.cache/accord/models}"
ACCORD="$HERE/../.venv/bin/accord"
PY="$HERE/../.venv/bin/python"
WORK="$(mktemp -d)"
trap 'pkill -f "$SERVER" || true; rm -rf "$WORK"' EXIT
[ -x "$SERVER" ] || { echo "build the server first: sh benchmarks/build_llama_server.sh" >&2; exit 1; }
"$PY" -c "from accord.runners.llm.local import ensure_model as e; e('qwen2.5-coder-0.5b'); e('smollm2-135m')"

study() {  # study P: the quick start with its two models served by llama-server, P calls at once
  "$PY" - "$1" "$HERE/../studies/quickstart.toml" "$WORK/qs$1.toml" <<'PYEOF'
import sys
p, src, dst = int(sys.argv[1]), sys.argv[2], sys.argv[3]
text = open(src).read().replace('name = "quickstart"', f'name = "qs{p}"')
for alias, model, port, price in (("smollm2", "smollm2-135m", 18082, (0.01e-6, 0.02e-6)),
                                  ("qwen", "qwen2.5-coder-0.5b", 18081, (0.04e-6, 0.08e-6))):
    text = text.replace(
        f'[models.{alias}]\nmodel = "local/{model}"\n',
        f'[models.{alias}]\nmodel = "openai/{model}"\napi_base = "http://127.0.0.1:{port}/v1"\n'
        f'api_key_env = "LLAMA_KEY"\ninput_cost_per_token = {price[0]}\noutput_cost_per_token = {price[1]}\n'
        f'max_concurrent = {p}\n',
    )
open(dst, "w").write(text)
PYEOF
}

serve() {  # serve P
  pkill -f "$SERVER" || true
  sleep 1
  "$SERVER" -m "$MODELS/qwen2.5-coder-0.5b.gguf" --alias qwen2.5-coder-0.5b --host 127.0.0.1 --port 18081 \
    -c $((4096 * $1)) -np "$1" -t 2 -tb 2 > "$WORK/qwen-$1.log" 2>&1 &
  "$SERVER" -m "$MODELS/smollm2-135m.gguf" --alias smollm2-135m --host 127.0.0.1 --port 18082 \
    -c $((4096 * $1)) -np "$1" -t 2 -tb 2 > "$WORK/smol-$1.log" 2>&1 &
  for port in 18081 18082; do
    for _ in $(seq 120); do curl -sf "http://127.0.0.1:$port/health" > /dev/null && break; sleep 0.5; done
  done
}

measure() {  # measure P TAG
  serve "$1"
  study "$1"
  rm -rf "$WORK/runs" "$WORK/cache-$2"
  mkdir -p "$WORK/cache-$2"
  ln -s "$MODELS" "$WORK/cache-$2/models"
  start=$(date +%s.%N)
  ACCORD_CACHE_DIR="$WORK/cache-$2" LLAMA_KEY=none "$ACCORD" run "$WORK/qs$1.toml" > "$WORK/run-$2.log" 2>&1
  ACCORD_CACHE_DIR="$WORK/cache-$2" LLAMA_KEY=none "$ACCORD" confirm "$WORK/qs$1.toml" --top 2 >> "$WORK/run-$2.log" 2>&1
  end=$(date +%s.%N)
  "$PY" - "$WORK/cache-$2/responses.sqlite" "$2" "$1" "$start" "$end" <<'PYEOF'
import json, sqlite3, sys
path, tag, p, start, end = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5])
rows = [json.loads(v) for (v,) in sqlite3.connect(path).execute("SELECT value FROM responses")]
tokens = sum(r["completion_tokens"] for r in rows)
print(f"{tag}: {p} slot(s), {len(rows)} calls, {tokens} completion tokens, wall {end - start:.1f} s, "
      f"{tokens / (end - start):.1f} completion tokens/s of wall time")
PYEOF
}

echo "$(date -u +%F) $(nproc) cores; llama-server $("$SERVER" --version 2>&1 | head -1)"
measure 1 A1
measure 4 B4
measure 4 B4b
measure 1 A1b
