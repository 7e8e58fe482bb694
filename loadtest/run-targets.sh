#!/usr/bin/env bash
# Runs the benchmark targets of the README against a fresh release server each
# (embedded SQLite, simulated experts), keeping each run's table and JSON line
# in loadtest/results/. Usage: loadtest/run-targets.sh [burst|paced|fanout|mixed|memory]...
# (memory runs askpanel-membench: memory per live panel and per idle socket).
# Every target streams one word per delta (--words-per-delta 1): one token
# frame per token, as the peers' one-token callbacks deliver.
set -euo pipefail
# 10,000 sockets on each side of the fan-out target.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
cd "$(dirname "$0")/.."
cargo build --release --workspace --bins
bin=target/release
mkdir -p loadtest/results
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(burst paced fanout mixed memory)

run() {
  local name=$1; shift
  local tool=askpanel-loadtest
  if [ "$name" = memory ]; then tool=askpanel-membench; fi
  local dir; dir="$(mktemp -d)"
  local admin="bench-$(date +%s%N)"
  ASKPANEL__AUTH__ADMIN_KEY="$admin" ASKPANEL__LOG__LEVEL=warn ASKPANEL__WS__MAX_SOCKETS_PER_KEY=20000 \
    "$bin/askpanel" serve --bind 127.0.0.1:0 --data-dir "$dir" > "$dir/out.log" 2> "$dir/err.log" &
  local server=$!
  for _ in $(seq 1 100); do grep -q "listening on" "$dir/out.log" 2>/dev/null && break; sleep 0.1; done
  local url; url=$(sed -n 's/^listening on //p' "$dir/out.log")
  echo "== $name: $tool $*"
  "$bin/$tool" --url "$url" --admin-key "$admin" "$@" | tee "loadtest/results/$name.txt"
  tail -n 1 "loadtest/results/$name.txt" > "loadtest/results/$name.json"
  kill "$server"; wait "$server" 2>/dev/null || true
  rm -rf "$dir"
}

for target in "${targets[@]}"; do
  case $target in
    burst)  run burst  --panels 1000 --subscribers 2 --type structured --experts 5 --rounds 3 --turn-tokens 200 --pace 0 --words-per-delta 1 --duration-s 600 ;;
    paced)  run paced  --panels 1000 --subscribers 2 --type structured --experts 5 --rounds 3 --turn-tokens 200 --pace 20 --words-per-delta 1 --duration-s 900 ;;
    fanout) run fanout --panels 1 --subscribers 10000 --type structured --experts 3 --rounds 2 --turn-tokens 100 --pace 10 --words-per-delta 1 --duration-s 600 --connect-concurrency 200 ;;
    memory) run memory --panels 1000 --sockets 1000 ;;
    mixed)  run mixed  --panels 500 --subscribers 2 --type mix --experts 5 --rounds 3 --turn-tokens 100 --pace 20 --tenants 20 --words-per-delta 1 --duration-s 900 ;;
    *) echo "unknown target $target" >&2; exit 2 ;;
  esac
done
