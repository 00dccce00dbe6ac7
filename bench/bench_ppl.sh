#!/usr/bin/env bash
# WikiText-2 perplexity of a Llama GGUF model: dense, HiP (mask_k 1024 and
# 512) and StreamingLLM at the same key budgets, for each context length,
# over the whole text (windows of --ctx tokens, stride --ctx). One JSON line
# per run (`hipattn eval ppl --json`, with the time of each part of the
# forward pass) to stdout, in a fixed order. The runs are independent
# processes started together (the GPU idles while each one's host part runs).
#   bench/bench_ppl.sh MODEL TEXT [BIN_DIR] [CTX...]   (default build/bin, 2048 4096 8192)
# Environment: BACKEND (default cuda), MAX_WINDOWS (default 0 = all),
# HIP_NUM_THREADS (host threads per process, default 4), TMPDIR (logs),
# ONLY (indices into the list of runs below, e.g. "1 2" for HiP and
# StreamingLLM at mask_k 1024; default all).
set -u
MODEL=$1 TEXT=$2 BIN=${3:-build/bin}
shift $(( $# < 3 ? $# : 3 ))
CTXS=${*:-2048 4096 8192}
LOGS=${TMPDIR:-/tmp}
export HIP_DISABLE_AUTOTUNE=${HIP_DISABLE_AUTOTUNE:-1} HIP_NUM_THREADS=${HIP_NUM_THREADS:-4}
RUNS=("dense" "hip --mask-k 1024" "streaming --mask-k 1024" "hip --mask-k 512" "streaming --mask-k 512")
for ctx in $CTXS; do
  for i in ${ONLY:-${!RUNS[@]}}; do
    # shellcheck disable=SC2086 # the run's options split into words
    "$BIN/hipattn" eval ppl --model "$MODEL" --text "$TEXT" --ctx "$ctx" --backend "${BACKEND:-cuda}" \
      --max-windows "${MAX_WINDOWS:-0}" --json --method ${RUNS[$i]} \
      > "$LOGS/ppl_${ctx}_$i.json" 2> "$LOGS/ppl_${ctx}_$i.err" &
  done
done
wait
for ctx in $CTXS; do
  for i in ${ONLY:-${!RUNS[@]}}; do cat "$LOGS/ppl_${ctx}_$i.json"; done
done
