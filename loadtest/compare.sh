#!/usr/bin/env bash
# Runs askpanel and the LangGraph peer baseline side by side on this machine
# and prints their throughput as ratios. Usage: loadtest/compare.sh
#
# The workload on both sides: N panels at once of 5 experts x 3 rounds, every
# turn 200 instant one-token deltas, each token delivered as its own frame
# (askpanel: a WebSocket frame to one subscriber per panel, through a fresh
# release server with embedded SQLite; LangGraph: one item of
# graph.astream(stream_mode="messages"), see loadtest/langgraph_baseline.py).
# askpanel and LangGraph runs alternate (a, l, a, l, ...) so that the
# machine's noise hits both alike; medians are compared.
#
# Environment:
#   SIZES="100 300"               panels at once, one comparison per size
#   RUNS=3                        runs of each framework per size
#   ASKPANEL_COMPARE_VENV=DIR     the LangGraph venv (default
#                                 ~/.cache/askpanel/langgraph-venv), made once
#                                 from loadtest/langgraph-requirements.txt and
#                                 remade when that file changes
#   ASKPANEL_COMPARE_NO_BUILD=1   use target/release as it is (no cargo build)
#
# Writes each run's JSON line to loadtest/results/compare-<size>-<framework>-<run>.json
# and the table to loadtest/results/compare.txt. Exits 1 if an askpanel run lost
# events or left panels incomplete, or a LangGraph run did not deliver every token.
set -euo pipefail
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
cd "$(dirname "$0")/.."
read -r -a sizes <<< "${SIZES:-100 300}"
runs=${RUNS:-3}
venv=${ASKPANEL_COMPARE_VENV:-$HOME/.cache/askpanel/langgraph-venv}
requirements=loadtest/langgraph-requirements.txt
bin=target/release
results=loadtest/results
mkdir -p "$results"

# The LangGraph environment: made once, remade when the pins change.
if ! cmp -s "$requirements" "$venv/requirements.txt" 2>/dev/null || [ ! -x "$venv/bin/python" ]; then
  if [ -e "$venv" ] && [ ! -f "$venv/pyvenv.cfg" ]; then
    echo "$venv exists and is no venv: set ASKPANEL_COMPARE_VENV elsewhere" >&2; exit 2
  fi
  echo "== making the LangGraph venv at $venv"
  python3 -m venv --clear "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
  cp "$requirements" "$venv/requirements.txt"
fi

if [ "${ASKPANEL_COMPARE_NO_BUILD:-}" != 1 ]; then
  cargo build --release --workspace --bins
fi
for b in askpanel askpanel-loadtest; do
  [ -x "$bin/$b" ] || { echo "missing $bin/$b (build it, or unset ASKPANEL_COMPARE_NO_BUILD)" >&2; exit 2; }
done

server=""
dir=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  if [ -n "$dir" ]; then rm -rf "$dir"; fi
}
trap cleanup EXIT

failed=0

# One askpanel run against a fresh server: askpanel_run SIZE RUN
askpanel_run() {
  local n=$1 run=$2 out="$results/compare-$1-askpanel-$2.json"
  dir="$(mktemp -d)"
  local admin="bench-$(date +%s%N)"
  ASKPANEL__AUTH__ADMIN_KEY="$admin" ASKPANEL__LOG__LEVEL=warn \
    "$bin/askpanel" serve --bind 127.0.0.1:0 --data-dir "$dir" > "$dir/out.log" 2> "$dir/err.log" &
  server=$!
  for _ in $(seq 1 100); do grep -q "listening on" "$dir/out.log" 2>/dev/null && break; sleep 0.1; done
  local url; url=$(sed -n 's/^listening on //p' "$dir/out.log")
  if [ -z "$url" ]; then
    echo "askpanel did not start:" >&2; cat "$dir/err.log" >&2; exit 1
  fi
  echo "== $n panels, run $run: askpanel"
  "$bin/askpanel-loadtest" --url "$url" --admin-key "$admin" --panels "$n" --subscribers 1 \
    --type structured --experts 5 --rounds 3 --turn-tokens 200 --pace 0 --words-per-delta 1 \
    --get-rate 0 --create-concurrency 32 --duration-s 600 > "$dir/loadtest.txt"
  tail -n 1 "$dir/loadtest.txt" > "$out"
  kill "$server"; wait "$server" 2>/dev/null || true
  server=""
  rm -rf "$dir"; dir=""
  python3 - "$out" "$n" <<'EOF' || failed=1
import json, sys
r = json.load(open(sys.argv[1])); n = int(sys.argv[2])
# Token frames carry a timestamp each, so the token latency sample counts them.
tokens = r["token_latency_ms"]["n"]
print(f"   {r['panels_per_s']} panels/s, {r['frames_per_s']} frames/s, server {r['server_cpu_s']} CPU s, "
      f"{r['panels_completed']}/{n} completed, {r['lost_events']} lost, "
      f"{tokens}/{n * 5 * 3 * 200} token frames ({r['lagged']} lagged)")
if r["panels_completed"] != n or r["lost_events"] != 0:
    sys.exit(f"   askpanel run failed: {r['panels_completed']}/{n} panels completed, {r['lost_events']} events lost")
EOF
}

# One LangGraph run: langgraph_run SIZE RUN
langgraph_run() {
  local n=$1 run=$2 out="$results/compare-$1-langgraph-$2.json"
  echo "== $n panels, run $run: langgraph"
  if ! "$venv/bin/python" loadtest/langgraph_baseline.py --panels "$n" > "$out"; then
    echo "   langgraph run failed: not every token was delivered" >&2
    failed=1
  fi
  python3 - "$out" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"   {r['panels_per_s']} panels/s, {r['tokens_per_s']} tokens/s, {r['cpu_s']} CPU s, "
      f"{r['completed']}/{r['panels']} completed, {r['tokens']}/{r['expected_tokens']} tokens")
EOF
}

for n in "${sizes[@]}"; do
  for run in $(seq 1 "$runs"); do
    askpanel_run "$n" "$run"
    langgraph_run "$n" "$run"
  done
done

python3 - "$results" "$runs" "${sizes[@]}" <<'EOF' | tee "$results/compare.txt"
import json, os, platform, statistics, subprocess, sys

results, runs, sizes = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
TOKENS_PER_PANEL = 5 * 3 * 200  # experts x rounds x turn tokens, as run above

def load(size: str, framework: str) -> list[dict]:
    return [json.load(open(os.path.join(results, f"compare-{size}-{framework}-{r}.json"))) for r in range(1, runs + 1)]

def fmt(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} ({', '.join(f'{v:.2f}' for v in values)})"

try:
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
except OSError:
    rev = "?"
lg_version = load(sizes[0], "langgraph")[0]
print(f"askpanel {rev or '?'} vs LangGraph {lg_version['langgraph']} (langchain-core {lg_version['langchain_core']}, "
      f"Python {lg_version['python']}) on {platform.machine()}, {os.cpu_count()} cores; "
      f"{runs} runs each, medians, values in run order")
print("workload: N panels at once, 5 experts x 3 rounds x 200 instant one-token deltas, one frame per token")
print()
header = ["panels", "askpanel panels/s", "langgraph panels/s", "ratio",
          "askpanel frames/s", "askpanel frames/server CPU s", "langgraph tokens/CPU s", "panels per CPU s ratio",
          "askpanel token frames"]
rows = []
for size in sizes:
    a, l = load(size, "askpanel"), load(size, "langgraph")
    a_pps = [r["panels_per_s"] for r in a]
    l_pps = [r["panels_per_s"] for r in l]
    # server_cpu_s is rounded to 0.1 s; frames_per_server_cpu_s is not, so the
    # server's CPU seconds are recovered from it where it is there.
    a_cpu = [r["frames_delivered"] / r["frames_per_server_cpu_s"] if r.get("frames_per_server_cpu_s") else r["server_cpu_s"]
             for r in a]
    a_fpc = [r["frames_delivered"] / c for r, c in zip(a, a_cpu) if c > 0]
    l_tpc = [r["tokens"] / r["cpu_s"] for r in l if r["cpu_s"] > 0]
    a_ppc = [r["panels_completed"] / c for r, c in zip(a, a_cpu) if c > 0]
    l_ppc = [r["completed"] / r["cpu_s"] for r in l if r["cpu_s"] > 0]
    a_fpc_m = statistics.median(a_fpc) if a_fpc else float("nan")
    l_tpc_m = statistics.median(l_tpc) if l_tpc else float("nan")
    cpu_ratio = statistics.median(a_ppc) / statistics.median(l_ppc) if a_ppc and l_ppc else float("nan")
    rows.append([
        size, fmt(a_pps), fmt(l_pps),
        f"{statistics.median(a_pps) / statistics.median(l_pps):.1f}x",
        f"{statistics.median(r['frames_per_s'] for r in a):.0f}",
        f"{a_fpc_m:.0f}", f"{l_tpc_m:.0f}", f"{cpu_ratio:.1f}x",
        f"{statistics.median(r['token_latency_ms']['n'] / (int(size) * TOKENS_PER_PANEL) for r in a):.1%}",
    ])
widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
print(" | ".join(h.ljust(w) for h, w in zip(header, widths)))
print("-|-".join("-" * w for w in widths))
for row in rows:
    print(" | ".join(str(x).ljust(w) for x, w in zip(row, widths)))
print()
print("askpanel's CPU is the server's alone (the load generator runs beside it on the same cores);")
print("LangGraph's is its whole process, the consumer of every token included. askpanel's frames")
print("are its tokens plus a few lifecycle events per turn; the CPU ratio compares panels per CPU s.")
print("askpanel token frames: the share of the N x 3000 tokens that reached the subscriber as token")
print("frames (median). A subscriber that connects after a turn began gets that turn's text so far in its")
print("snapshot, not as deltas; one that falls behind gets `lagged`, its pending deltas are dropped and it")
print("resumes from the event log (no event lost). LangGraph's consumer always gets 100%.")
EOF

if [ "$failed" != 0 ]; then
  echo "compare: a run failed (see above)" >&2
  exit 1
fi
