#!/usr/bin/env bash
# WikiText-2 perplexity of a Llama GGUF model: dense, HiP (mask_k 512 and
# 1024) and StreamingLLM at the same key budgets, for each context length,
# over the whole text (windows of --ctx tokens, stride --ctx). One JSON line
# per run (`hipattn eval ppl --json`) to stdout; the context lengths run in
# parallel (one process each), the methods of one length one after another.
#   bench/bench_ppl.sh MODEL TEXT [BIN_DIR] [CTX...]   (default build/bin, 2048 4096 8192)
# Environment: BACKEND (default cuda), MAX_WINDOWS (default 0 = all).
set -u
MODEL=$1 TEXT=$2 BIN=${3:-build/bin}
shift $(( $# < 3 ? $# : 3 ))
CTXS=${*:-2048 4096 8192}
export HIP_DISABLE_AUTOTUNE=${HIP_DISABLE_AUTOTUNE:-1}
run() { # ctx, method, extra options
  local ctx=$1 m=$2; shift 2
  "$BIN/hipattn" eval ppl --model "$MODEL" --text "$TEXT" --ctx "$ctx" --method "$m" \
    --backend "${BACKEND:-cuda}" --max-windows "${MAX_WINDOWS:-0}" --json "$@"
}
for ctx in $CTXS; do
  {
    run "$ctx" dense
    for k in 512 1024; do
      run "$ctx" hip --mask-k "$k"
      run "$ctx" streaming --mask-k "$k"
    done
  } > "${TMPDIR:-/tmp}/ppl_$ctx.jsonl" 2> "${TMPDIR:-/tmp}/ppl_$ctx.err" &
done
wait
for ctx in $CTXS; do cat "${TMPDIR:-/tmp}/ppl_$ctx.jsonl"; done
