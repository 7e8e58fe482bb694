#!/usr/bin/env bash
# Starts a server on a free port with a fresh database, runs a small mixed
# load test against it with --check, and stops the server.
# Usage: loadtest/smoke.sh [target/debug|target/release]
set -euo pipefail
bin="${1:-target/release}"
dir="$(mktemp -d)"
admin="smoke-$(date +%s%N)"
ASKPANEL__AUTH__ADMIN_KEY="$admin" ASKPANEL__LOG__LEVEL=warn "$bin/askpanel" serve --bind 127.0.0.1:0 --data-dir "$dir" > "$dir/out.log" 2> "$dir/err.log" &
server=$!
trap 'kill "$server" 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 1 100); do
  grep -q "listening on" "$dir/out.log" 2>/dev/null && break
  sleep 0.1
done
url=$(sed -n 's/^listening on //p' "$dir/out.log")
"$bin/askpanel-loadtest" --url "$url" --admin-key "$admin" --panels 50 --subscribers 2 --type mix \
  --experts 5 --rounds 2 --turn-tokens 40 --pace 200 --tenants 2 --duration-s 180 --check
