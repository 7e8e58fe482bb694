#!/usr/bin/env bash
# What a password sign-in costs (argon2id at the configured cost) on the
# release binary: 30 in a row, then a burst of 40 at once (unknown accounts,
# which do the same hashing), and the memory the burst leaves: at once, and
# once the server's trim (every 15 s after work) has run. Usage:
#   loadtest/signin.sh [path/to/askpanel]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/release/askpanel}
DIR=$(mktemp -d)
ADMIN=ap_benchadminkey000000000000000000000
ASKPANEL__AUTH__ADMIN_KEY=$ADMIN ASKPANEL__LOG__LEVEL=warn ASKPANEL__ACCOUNTS__FAILURES_PER_ADDRESS_PER_MINUTE=100000 \
  "$BIN" --config config serve --bind 127.0.0.1:18099 --data-dir "$DIR" > "$DIR/out.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; rm -rf "$DIR"' EXIT
for _ in $(seq 1 100); do curl -s -o /dev/null http://127.0.0.1:18099/healthz && break; sleep 0.1; done
U=http://127.0.0.1:18099
T=$(curl -s -X POST -H "authorization: Bearer $ADMIN" -H 'content-type: application/json' -d '{"slug":"bench","name":"Bench"}' $U/v1/admin/tenants | python3 -c 'import sys,json;print(json.load(sys.stdin)["id"])')
curl -s -o /dev/null -X POST -H "authorization: Bearer $ADMIN" -H 'content-type: application/json' -d '{"email":"ada@bench.test","role":"admin","password":"correct horse battery staple"}' $U/v1/admin/tenants/$T/users
BODY='{"tenant":"bench","email":"ada@bench.test","password":"correct horse battery staple"}'
for i in $(seq 1 30); do curl -s -o /dev/null -w '%{time_total}\n' -X POST -H 'content-type: application/json' -d "$BODY" $U/v1/auth/sign-in; done | sort -n | awk '{a[NR]=$1} END {printf "sequential sign-ins: n=%d p50=%.1f ms p90=%.1f ms max=%.1f ms\n", NR, a[int(NR*0.5)]*1000, a[int(NR*0.9)]*1000, a[NR]*1000}'
WRONG='{"tenant":"bench","email":"nobody@bench.test","password":"wrong password"}'
(for i in $(seq 1 40); do curl -s -o /dev/null -w '%{http_code}\n' -X POST -H 'content-type: application/json' -d "$WRONG" $U/v1/auth/sign-in & done; wait) | sort | uniq -c | awk '{printf "burst of 40 unknown-account sign-ins: %s x %s\n", $1, $2}'
echo "server RSS after the burst: $(ps -o rss= -p $PID | awk '{printf "%.0f MB", $1/1024}')"
sleep 20
echo "server RSS 20 s later: $(ps -o rss= -p $PID | awk '{printf "%.0f MB", $1/1024}')"
