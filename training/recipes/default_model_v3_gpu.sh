#!/usr/bin/env bash
# Default model v3, stage 2 of 2: train the DiT on ONE GPU machine that reaches no registry, from the folder
# prepared by stage 1 (training/recipes/default_model_v3.sh: clips as 16-bit FLAC, captions, caption tokens,
# model configs). Stage 1 also fetches the wheels this machine lacks into .whl/.
#
#   WORK=.gpu OUT=/tmp/out MINUTES=7 bash training/recipes/default_model_v3_gpu.sh
#
# Writes OUT/pieces/ (the EMA weights, trained parts only, float16, in <= 16 MiB pieces: `sagasr-train unpack`)
# and OUT/metrics.csv. Continue a run: add INIT=<slim checkpoint folder from an earlier run> (the weights
# start there; optimizer state is not carried).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
WORK="${WORK:-.gpu}"; OUT="${OUT:-/tmp/sagasr-v3-out}"; MINUTES="${MINUTES:-7}"; RUN="${RUN:-/tmp/sagasr-v3-run}"
PY="${PYTHON:-python3}"
source training/recipes/gpu_env.sh   # packages, carried wheels, offline hubs
EXTRA=()
[ -n "${INIT:-}" ] && EXTRA+=(--init-weights "$INIT/checkpoint/model.safetensors")
[ -n "${VERSIONS:-}" ] && EXTRA+=(--bank-versions "$VERSIONS")
[ -n "${BATCH:-}" ] && EXTRA+=(--batch-size "$BATCH")
[ -n "${PRECISION:-}" ] && EXTRA+=(--precision "$PRECISION")
"$PY" -m sagasr_training diffusion --config training/configs/small-mdct-gpu.json --model "$WORK/model-gpu.json" \
    --data "$WORK/corpus" --captions "$WORK/corpus/captions.jsonl" --file-list "$WORK/corpus/train.txt" \
    --text-tokens "$WORK/tokens.safetensors" --run-dir "$RUN" --max-minutes "$MINUTES" "${EXTRA[@]}"
mkdir -p "$OUT"
rm -rf "$RUN-slim" && "$PY" -m sagasr_training slim "$RUN" -o "$RUN-slim"
"$PY" -m sagasr_training pack "$RUN-slim" -o "$OUT/pieces" --checkpoint-only
cp "$(ls -d "$RUN"/logs/*/ | tail -1)metrics.csv" "$OUT/metrics.csv"
"$PY" - "$OUT/metrics.csv" <<'PY'
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r.get("train/loss")]
for r in rows[:: max(1, len(rows) // 25)] + rows[-1:]:
    print(r.get("step"), r.get("train/step"), r["train/loss"], r.get("train/lr"))
vals = [r for r in csv.DictReader(open(sys.argv[1])) if r.get("val/loss")]
print("val", [(r.get("step"), r["val/loss"]) for r in vals])
PY
