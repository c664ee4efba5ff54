#!/usr/bin/env bash
# The data of the default model's campaign on a fresh machine (about 10 minutes on 2 cores; each step is skipped when
# its output exists): the seed-0 corpus, its carried training clips, the five choice sets' extra folders, the dark
# recordings, the Hydrogen one-shots, the three-bank training mix of v3.9 (stage 2m) with its caption tokens, and
# the shipped bundle's model config and band-level fit (what export needs to rebuild v3.9 and v3.10 bit for bit).
# They reproduce the model card's figures of v3.9 (choice sets 0.9628 / 1.0114 / 1.0429 / 1.1579 / 0.9967 with the
# runtime v3.9 shipped with; 0.9543 / 1.0088 / 1.0340 / 1.1470 / 0.9856 with today's) and of v3.10 ("v3.10").
#
#   bash training/recipes/evaluation_sets.sh [WORK_DIR]      (needs training/corpus/install.sh's packages and the
#   Debian sound fonts musescore-general-soundfont-lossless, avldrums.lv2-soundfont, csound-soundfont)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
WORK="${1:-$ROOT/data}"
cd "$ROOT"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
BUILD=(python -m sagasr_training.corpus build --workers 2)
BANKS=(--sources music21,openmsx,mma --drum-fraction 0 --validation-fraction 0)
MUSESCORE=/usr/share/sounds/sf2/MuseScore_General_Full.sf2

[ -f "$WORK/corpus/manifest.json" ] || "${BUILD[@]}" --out "$WORK/corpus" --hours 1 --seed 0
[ -f "$WORK/fl/train.txt" ] || python -m sagasr_training carry "$WORK/corpus" -o "$WORK/fl" --max-mb 50 --seed 0
[ -d "$WORK/dark" ] || python benchmarks/dark_recordings.py --corpus "$WORK/corpus" --used "$WORK/fl/clips" \
    --out "$WORK/dark"
[ -f "$WORK/ms7/manifest.json" ] || "${BUILD[@]}" --out "$WORK/ms7" --hours 0.2 --seed 7 --bank "$MUSESCORE" \
    "${BANKS[@]}" --max-clips-per-piece 1
[ -d "$WORK/avl11" ] || python benchmarks/avl_drum_clips.py --out "$WORK/avl11" --seed 11
[ -d "$WORK/hhits2" ] || python benchmarks/hydrogen_one_shots.py --out "$WORK/hhits2"
[ -f "$WORK/ms9/manifest.json" ] || "${BUILD[@]}" --out "$WORK/ms9" --hours 0.3 --seed 9 --bank "$MUSESCORE" \
    "${BANKS[@]}" --max-clips-per-piece 2
[ -f "$WORK/cs10/manifest.json" ] || "${BUILD[@]}" --out "$WORK/cs10" --hours 0.3 --seed 10 \
    --bank /usr/share/sounds/sf2/sf_GMbank.sf2 "${BANKS[@]}" --max-clips-per-piece 2
[ -f "$WORK/mix3h/train.txt" ] || python -m sagasr_training mix "$WORK/mix3h" fl="$WORK/fl" ms="$WORK/ms9:2" \
    cs="$WORK/cs10:2" --hold-out-seed 0
# the shipped bundle's model config (export --random-config; text-tokens) and band-level fit (export --band-level)
python - sagasr_stream/models/default/manifest.json "$WORK" <<'PY'
import json, sys
manifest, work = json.load(open(sys.argv[1])), sys.argv[2]
json.dump(manifest["provenance"]["config"], open(f"{work}/model-repeat.json", "w"), indent=1)
json.dump(manifest["defaults"]["band_level"], open(f"{work}/band-level.json", "w"), indent=1)
PY
M="$WORK/mix3h"
[ -f "$M/tokens-variants.safetensors" ] || python -m sagasr_training text-tokens --model "$WORK/model-repeat.json" \
    --data "$M" --captions "$M/captions.jsonl" --file-list "$M/train.txt" --caption-variants \
    --out "$M/tokens-variants.safetensors"
cat <<EOF
Done. A bundle B on the choice sets, the dark set and the hits (model card, "Tried after v3.9 ..."):
  python benchmarks/choice_sets.py --model B --out OUT/cs --corpus $WORK/corpus --used $WORK/fl/clips \\
      --set ms7=$WORK/ms7:40 --set avl11=$WORK/avl11:30 [--against REF/cs]
  sagasr eval $WORK/dark --split all -o OUT/dark --degradations filters resample --cutoffs 8000 12000 --pngs 0 --model B
  sagasr eval $WORK/hhits2/clips --split all -o OUT/hits --degradations filters resample --cutoffs 8000 --pngs 0 \\
      --model B
  python benchmarks/filter_families.py --corpus $WORK/corpus --used $WORK/fl/clips --set ms7=$WORK/ms7/clips:40 \\
      --set avl11=$WORK/avl11:30 --cutoff 8000 --model B
Fine-tune from v3.9 (stage 2m's recipe): python -m sagasr_training diffusion \\
      --config training/configs/small-mdct-cpu-repeat-captions.json --model training/weights/v3-repeat/config.json \\
      --init-weights training/weights/v3-repeat/model.safetensors --data $M --file-list $M/train.txt \\
      --captions $M/captions.jsonl --text-tokens $M/tokens-variants.safetensors --run-dir RUN
EOF
