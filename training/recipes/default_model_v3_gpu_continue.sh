#!/usr/bin/env bash
# Continue committed DiT weights on ONE GPU machine that reaches no registry (stage 2n, thirty-eighth session).
# The training data may arrive over several calls (each carries at most 64 MiB): every folder named in PARTS that
# exists holds clips/ (and perhaps more); the run trains on every listed clip that arrived.
#
#   PARTS=".gpu/a .gpu/b" MODEL=.gpu/b/model.json INIT=.gpu/b/init.safetensors CAPTIONS=.gpu/b/captions.jsonl \
#   TOKENS=.gpu/b/tokens-variants.safetensors.xz CONFIG=training/configs/small-mdct-gpu-continue.json \
#   MINUTES=6 KEEP="1000 3000" OUT=/tmp/out bash training/recipes/default_model_v3_gpu_continue.sh
#
# PROBE_SETS: held-out clips, "NAME=FOLDER[:COUNT] ..." (`sagasr-train probe`): every kept checkpoint and the start
# are scored on them after the run (probe.md and probe.json come back in the tar), and "best" in KEEP names the kept
# step with the lowest sum (thirty-ninth session: on nine candidates it ranked them as the choice sets did).
#
# EXTRA: more training flags (a dry run on a CPU: EXTRA="--accelerator cpu --precision 32-true --batch-size 4
# --bank-versions 1 --bank-workers 2 --save-every 3" MINUTES=0.5 KEEP=3).
#
# TOKENS may be xz-compressed (`sagasr-train text-tokens` output is mostly zero padding). Every EMA checkpoint the
# run writes (config save_every) is kept (--keep-checkpoints); those at the steps in KEEP and the last are slimmed
# (trained tensors, float16) and written to OUT as one tar in pieces of at most 16 MiB (ckpt.tar.part-*, SHA256
# beside them), with metrics.csv inside. Here: cat OUT/ckpt.tar.part-* | sha256sum (compare), then tar xf -; each
# step-N/ is a slim checkpoint for `python -m sagasr_export --trained-weights step-N/checkpoint/model.safetensors`.
# One call brings back less than 64 MiB: OUT gets the first RETURN_PIECES pieces (3); the rest stay in RUN-pieces/
# on the machine, and a second call while it is warm sends them (RETURN_FROM=3 OUT=$OUT bash <this recipe>: no
# training, pieces 3 to 5). Four kept steps and the last are five pieces (thirty-ninth session).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
OUT="${OUT:-/tmp/sagasr-continue-out}"; MINUTES="${MINUTES:-6}"; KEEP="${KEEP:-}"
RUN="${RUN:-/tmp/sagasr-continue-run}"; DATA="${DATA_DIR:-/tmp/sagasr-data}"; PY="${PYTHON:-python3}"
RETURN_PIECES="${RETURN_PIECES:-3}"; PIECE="${PIECE:-16M}"

send_pieces() {  # copy pieces $1 .. $1 + RETURN_PIECES - 1 of RUN-pieces/ to OUT; say which stay behind
    mkdir -p "$OUT"; cp "$RUN-pieces/SHA256" "$OUT/"
    local all=("$RUN-pieces"/ckpt.tar.part-*) i
    for ((i = $1; i < ${#all[@]}; i++)); do
        if ((i < $1 + RETURN_PIECES)); then cp "${all[i]}" "$OUT/"; else echo "left on the machine: ${all[i]}"; fi
    done
    ls -l "$OUT"; cat "$OUT/SHA256"
}
if [ -n "${RETURN_FROM:-}" ]; then send_pieces "$RETURN_FROM"; exit 0; fi
: "${PARTS:?}" "${MODEL:?}" "${INIT:?}" "${CAPTIONS:?}" "${TOKENS:?}" "${CONFIG:?}"
source training/recipes/gpu_env.sh   # packages, carried wheels, offline hubs

# 1. one data folder: links to the clips that arrived, the captions, the tokens
rm -rf "$DATA"; mkdir -p "$DATA/clips"
for part in $PARTS; do
    [ -d "$part/clips" ] || { echo "part $part: not here"; continue; }
    for f in "$part"/clips/*; do ln -s "$(cd "$(dirname "$f")" && pwd)/$(basename "$f")" "$DATA/clips/"; done
done
(cd "$DATA" && ls clips | sed 's|^|clips/|' > train.txt)
echo "clips: $(wc -l < "$DATA/train.txt")"
cp "$CAPTIONS" "$DATA/captions.jsonl"
case "$TOKENS" in
    *.xz) "$PY" -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' \
              "$TOKENS" "$DATA/tokens-variants.safetensors" ;;
    *) cp "$TOKENS" "$DATA/tokens-variants.safetensors" ;;
esac

# 2. train (the config keeps every EMA checkpoint it saves: RUN/kept/step-<N, 8 digits>)
rm -rf "$RUN"
"$PY" -m sagasr_training diffusion --config "$CONFIG" --model "$MODEL" --init-weights "$INIT" \
    --data "$DATA" --captions "$DATA/captions.jsonl" --file-list "$DATA/train.txt" \
    --text-tokens "$DATA/tokens-variants.safetensors" --run-dir "$RUN" --max-minutes "$MINUTES" --keep-checkpoints \
    ${EXTRA:-}

# 3. optional: every kept checkpoint and the start scored on held-out clips (sagasr-train probe); "best" in KEEP
PACK="$RUN-pack"; rm -rf "$PACK"; mkdir -p "$PACK"
if [ -n "${PROBE_SETS:-}" ]; then
    probe=(--weights "start=$INIT")
    for set in $PROBE_SETS; do probe+=(--set "$set"); done
    for kept in "$RUN"/kept/step-*; do
        probe+=(--weights "$(basename "$kept" | sed 's/^step-0*//')=$kept/checkpoint")
    done
    "$PY" -m sagasr_training probe --model "$MODEL" "${probe[@]}" --json "$PACK/probe.json" | tee "$PACK/probe.md"
    BEST=$("$PY" -c 'import json, sys; t = json.load(open(sys.argv[1])); t.pop("start")
print(min(t, key=lambda k: sum(t[k].values())))' "$PACK/probe.json")
    echo "lowest probe sum: step $BEST"
fi
case " $KEEP " in *" best "*) [ -n "${BEST:-}" ] || echo "KEEP names best, but no PROBE_SETS scored the steps" ;; esac
KEEP="${KEEP//best/${BEST:-}}"

# 4. slim the kept steps and the last, one tar in <= 16 MiB pieces
LAST=$(ls "$RUN/kept" | sed 's/^step-0*//' | sort -n | tail -1)
for s in $KEEP $LAST; do
    kept="$RUN/kept/step-$(printf %08d "$s")"
    [ -d "$kept" ] || { echo "no checkpoint at step $s"; continue; }
    [ -d "$PACK/step-$s" ] || "$PY" -m sagasr_training slim "$kept" -o "$PACK/step-$s"
done
cp "$(ls -d "$RUN"/logs/*/ | tail -1)metrics.csv" "$PACK/metrics.csv"
(cd "$PACK" && tar cf "$RUN.tar" .)
rm -rf "$RUN-pieces"; mkdir -p "$RUN-pieces"
sha256sum < "$RUN.tar" | cut -d' ' -f1 > "$RUN-pieces/SHA256"
split -b "$PIECE" -d "$RUN.tar" "$RUN-pieces/ckpt.tar.part-"
send_pieces 0
"$PY" - "$PACK/metrics.csv" <<'PY'
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r.get("train/loss")]
for r in rows[:: max(1, len(rows) // 20)] + rows[-1:]:
    print(r.get("step"), r.get("train/step"), r["train/loss"], r.get("train/lr"))
PY
