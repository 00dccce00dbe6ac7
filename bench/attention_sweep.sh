#!/usr/bin/env bash
# HiP attention, the project's dense DSL kernel and PyTorch SDPA (cuDNN and
# FlashAttention-2) over T = 4k..128k on a GPU: bf16, B=1, H=32, H_kv=8,
# D=128, causal, v1.1 HiP defaults, default kernel schedules
# (HIP_DISABLE_AUTOTUNE=1; a schedule already in $HIP_CACHE_DIR/autotune.json
# is still used, and the "configs" field of each line says so).
#   bench/attention_sweep.sh BIN_DIR OUTDIR
# Appends JSON lines to OUTDIR/sdpa.jsonl (bench/sdpa_baseline.py, one per
# backend and T) and OUTDIR/ours.jsonl (`hipattn run --json --latency-only`,
# one per T; a line {"T_q", "T_k", "error", "rc"} where a run gave none),
# keeps each command's stderr in OUTDIR/logs/, then prints the table of
# bench/attention_table.py. SDPA runs first (it is quick), so its figures
# survive if an outer limit stops the sweep during the long hipattn runs.
# Environment:
#   T_LIST        sequence lengths (default 4096 8192 16384 32768 65536 131072)
#   REPS          hipattn timed repetitions (default 3); SDPA_REPS (default 10)
#   RUN_TIMEOUT   seconds per hipattn run (default 240)
#   SDPA_TIMEOUT  seconds for the whole SDPA baseline (default 240)
#   PYTHON        (default python3)
#   RUN_ARGS      more `hipattn run` arguments (e.g. --mask-pipeline bench/head_shared.json)
#   SKIP_SDPA     non-empty: no SDPA baselines (a second sweep of the same run)
# `hipattn run` always times the dense DSL kernel too (4 calls: a warm-up and
# REPS; about 5 s each at 128k) and has no option to skip it, so there is no
# DENSE_MAX_T here: the dense figure is measured at every T.
# HIP_K, HIP_BQ, HIP_BSQ, HIP_BK, HIP_BSK, HIP_SW, HIP_NSINK and HIP_TUNED are
# unset so that the v1.1 defaults apply. Exit status 1 if any run failed.
set -u
if [ $# -ne 2 ]; then
  echo "usage: bench/attention_sweep.sh BIN_DIR OUTDIR" >&2
  exit 2
fi
BIN=$1 OUTDIR=$2
HERE=$(cd "$(dirname "$0")" && pwd)
PY=${PYTHON:-python3}
TS=${T_LIST:-4096 8192 16384 32768 65536 131072}
REPS=${REPS:-3}
RUN_TIMEOUT=${RUN_TIMEOUT:-240}
SDPA_TIMEOUT=${SDPA_TIMEOUT:-240}
mkdir -p "$OUTDIR/logs"
unset HIP_K HIP_BQ HIP_BSQ HIP_BK HIP_BSK HIP_SW HIP_NSINK HIP_TUNED
export HIP_DISABLE_AUTOTUNE=1
status=0

rc=0
if [ -z "${SKIP_SDPA:-}" ]; then
  echo "== SDPA baselines (T: $TS)" >&2
  # shellcheck disable=SC2086 # the list of T splits into arguments
  timeout -k 10 "$SDPA_TIMEOUT" "$PY" "$HERE/sdpa_baseline.py" --reps "${SDPA_REPS:-10}" $TS \
    >> "$OUTDIR/sdpa.jsonl" 2> "$OUTDIR/logs/sdpa.err"
  rc=$?
fi
if [ $rc -ne 0 ]; then
  echo "sdpa_baseline.py: exit status $rc$([ $rc -eq 124 ] && echo " (timed out after ${SDPA_TIMEOUT} s)"); see $OUTDIR/logs/sdpa.err" >&2
  tail -3 "$OUTDIR/logs/sdpa.err" >&2
  status=1
fi

for T in $TS; do
  echo "== hipattn run T=$T" >&2
  out="$OUTDIR/logs/ours_$T.out" err="$OUTDIR/logs/ours_$T.err"
  start=$(date +%s)
  timeout -k 10 "$RUN_TIMEOUT" "$BIN/hipattn" run --backend cuda --T "$T" --H 32 --Hkv 8 --D 128 \
    --json --latency-only --reps "$REPS" ${RUN_ARGS:-} > "$out" 2> "$err"
  rc=$?
  echo "   exit status $rc after $(( $(date +%s) - start )) s" >&2
  if [ $rc -eq 0 ] && grep -q '^{' "$out"; then
    grep '^{' "$out" >> "$OUTDIR/ours.jsonl"
  else
    status=1
    why="exit status $rc"
    [ $rc -eq 124 ] && why="timed out after $RUN_TIMEOUT s"
    tail -3 "$err" >&2
    "$PY" - "$T" "$rc" "$why" "$err" >> "$OUTDIR/ours.jsonl" <<'PY'
import json, sys
T, rc, why, err = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
try:
    with open(err, errors="replace") as f:
        tail = f.read()[-300:].strip()
except OSError:
    tail = ""
print(json.dumps({"T_q": T, "T_k": T, "rc": rc, "error": why + (": " + tail if tail else "")}))
PY
  fi
done

"$PY" "$HERE/attention_table.py" "$OUTDIR" || status=1
exit $status
