#!/usr/bin/env bash
# Device machine, second call of a session: SmolLM2-135M perplexity on the
# whole WikiText-2 test text (bench/bench_ppl.sh). The model (98 MB) is over
# one call's 64 MiB transfer limit, so it travels in two parts: the first call
# (scripts/gpu_check.sh with SMOL_PART=path) leaves part A in /tmp, this call
# brings part B in .carry2/ and joins them. Logs and JSON lines go to $OUT.
set -u
OUT=${OUT:-/tmp/out}
B=/tmp/hipbuild/build
M=/tmp/smollm2.gguf
GGUF_SHA=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
[ -x $B/bin/hipattn ] || { echo "no build in /tmp/hipbuild: run scripts/gpu_check.sh first"; exit 1; }
[ -f /tmp/smol.a ] || { echo "no /tmp/smol.a: run scripts/gpu_check.sh with SMOL_PART first"; exit 1; }
cat /tmp/smol.a .carry2/smol.b > $M
echo "$GGUF_SHA  $M" | sha256sum -c - || exit 1
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
L=/tmp/ppllogs; rm -rf $L; mkdir -p $L
# Stops at PPL_LIMIT seconds (default 540) so that what finished comes back.
TMPDIR=$L timeout ${PPL_LIMIT:-540} bench/bench_ppl.sh $M .carry/data/wikitext-2/test.txt $B/bin ${CTXS:-2048 4096 8192}
cat $L/ppl_*.json > "$OUT/ppl.jsonl" 2>/dev/null
tar -czf "$OUT/ppl_logs.tar.gz" -C $L .
for f in $L/ppl_*.err; do echo "$(basename $f): $(tr '\r' '\n' < $f | grep window | tail -1)"; done
python3 - "$OUT/ppl.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
print(f"{'ctx':>6} {'method':>10} {'mask_k':>6} {'window':>6} {'windows':>7} {'tokens':>7} {'ppl':>9} {'s':>7}  phases (s)")
for r in sorted(rows, key=lambda r: (r['ctx'], r['method'], r.get('mask_k', 0))):
    print(f"{r['ctx']:>6} {r['method']:>10} {r.get('mask_k', 0):>6} {r.get('window', 0):>6} "
          f"{r['windows']:>7} {r['tokens']:>7} {r['ppl']:>9.4f} {r['seconds']:>7.1f}  {r.get('phases_s')}")
PY
