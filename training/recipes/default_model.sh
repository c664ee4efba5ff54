#!/usr/bin/env bash
# The exact recipe of the embedded default model (sagasr_stream/models/default), on a 2-core CPU.
# Each stage resumes or is skipped when its output exists, so the script can be re-run after an interruption.
# Usage: bash training/recipes/default_model.sh [WORK_DIR]      (default WORK_DIR: ./data; ~25 GB free is plenty)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
WORK="${1:-$ROOT/data}"
CORPUS="$WORK/corpus"
RUNS="$WORK/runs"
cd "$ROOT"

# 1. corpus: 2 h of rendered MIDI, mma grooves and Hydrogen kits, split by piece/kit (training/corpus/README.md)
if [ ! -f "$CORPUS/manifest.json" ]; then
    bash training/corpus/install.sh
    python -m sagasr_training.corpus build --out "$CORPUS" --hours 2 --seed 0 --workers 1
fi
DATA=(--data "$CORPUS" --captions "$CORPUS/captions.jsonl" --file-list "$CORPUS/train.txt")

# 2. VAE (small Oobleck) on the training split; stopped at step 2250 for the shipped model (--max-steps 2250)
sagasr-train vae --config training/configs/vae-small-cpu.json "${DATA[@]}" --run-dir "$RUNS/vae-small-cpu" \
    --max-steps "${VAE_STEPS:-2250}"

# 3. the small config with per-channel latent_shift/latent_scale from this VAE's latents (zero mean, unit variance)
VAE=(--vae-weights "$RUNS/vae-small-cpu/checkpoint")
MODEL="$RUNS/sagasr-small-cpu-model.json"
if [ ! -f "$MODEL" ]; then
    sagasr-train latent-scale --config training/configs/small-cpu.json "${DATA[@]}" "${VAE[@]}" --out "$MODEL"
fi

# 4. encode training windows once with the frozen VAE and text encoder
CACHE="$RUNS/latents-small-cpu.safetensors"
if [ ! -f "$CACHE" ]; then
    sagasr-train cache-latents --config training/configs/small-cpu.json --model "$MODEL" "${DATA[@]}" "${VAE[@]}" \
        --out "$CACHE" --items "${CACHE_ITEMS:-1500}"
fi

# 5. DiT (rectified flow, roll-off + text conditioning, independent 10 % dropouts) on the cache
sagasr-train diffusion --config training/configs/small-cpu.json --model "$MODEL" "${DATA[@]}" "${VAE[@]}" \
    --latent-cache "$CACHE" --run-dir "$RUNS/sagasr-small-cpu"

# 6. decoder fine-tune: the encoder stays frozen (so the latents, the cache and the DiT above stay valid), the
#    evaluation's log-spectral distance joins the loss (the step-2250 decoder left the top octave ~12 dB too quiet)
sagasr-train vae --config training/configs/vae-small-cpu-decoder.json "${DATA[@]}" "${VAE[@]}" \
    --run-dir "$RUNS/vae-small-cpu-decoder" --max-steps "${DECODER_STEPS:-5000}"

# 7. bundle with that decoder (float16 weight storage, float32 compute; int8 text-embedding table; 4 steps: quality
#    is flat in the steps, see the model card), then the model card's evaluation on every 5th validation clip
python -m sagasr_export "$RUNS/sagasr-small-cpu/checkpoint" -o "$WORK/bundle" \
    --vae-decoder "$RUNS/vae-small-cpu-decoder/checkpoint" --quantize-text --store-fp16 --steps 4 --overwrite
awk 'NR%5==1' "$CORPUS/validation.txt" > "$CORPUS/validation-every5.txt"
sagasr eval "$CORPUS/validation-every5.txt" --model "$WORK/bundle" --out "$WORK/eval" --clip-seconds 6 --pngs 4
# to ship: rm -r sagasr_stream/models/default && cp -r "$WORK/bundle" sagasr_stream/models/default
