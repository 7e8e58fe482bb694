#!/usr/bin/env bash
# Runs `askpanel eval` against the real local model: llama.cpp's
# OpenAI-compatible server with SmolLM2-135M-Instruct (installed once by
# .ci/llm-setup), and the simulated experts for comparison. Offline.
#
#   loadtest/eval-smollm2.sh [BIN_DIR] [eval options...]
#
# BIN_DIR defaults to target/release. The report lands in eval-report/
# (eval.json, eval.md) unless --out says otherwise. Extra options go to eval,
# e.g. `--formats structured --experts 5 --rounds 3 --panels 1`.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN_DIR="${1:-target/release}"
shift || true
LLM_ENV="$(./.ci/llm-setup)"
eval "$LLM_ENV"
PORT="${ASKPANEL_EVAL_PORT:-18471}"
"$ASKPANEL_LLAMA_PYTHON" -m llama_cpp.server --model "$ASKPANEL_LLAMA_MODEL" --host 127.0.0.1 --port "$PORT" \
  --n_ctx 4096 --model_alias smollm2 --n_threads "$(nproc)" >/tmp/askpanel-eval-llama.log 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  curl -sf "http://127.0.0.1:$PORT/v1/models" >/dev/null && break
  sleep 1
done
ASKPANEL__LLM__BASE_URL="http://127.0.0.1:$PORT/v1" \
ASKPANEL__LLM__MAX_CONCURRENT_REQUESTS=1 \
ASKPANEL__LLM__MAX_TOKENS="${ASKPANEL_EVAL_MAX_TOKENS:-160}" \
ASKPANEL__LLM__CONTEXT_CHARS="${ASKPANEL_EVAL_CONTEXT_CHARS:-6000}" \
ASKPANEL__LLM__REQUEST_TIMEOUT_S=300 \
ASKPANEL__LOG__LEVEL=warn \
  "$BIN_DIR/askpanel" eval --models "${ASKPANEL_EVAL_MODELS:-simulated,smollm2}" "$@"
