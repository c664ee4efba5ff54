"""Build natural drum one-shots: one hit of every General MIDI drum note through the two AVL kits.

    apt-get install avldrums.lv2-soundfont fluidsynth
    python benchmarks/avl_one_shots.py --out HITS
    sagasr eval HITS/clips --split all -o eval-hits --degradations filters resample --cutoffs 4000 8000 12000 --pngs 0

The clips of ``avl_drum_clips.py`` are 10 s excerpts of grooves: every window holds many hits. A sample library
holds single hits instead, each a file that starts at its onset and lasts 0.1-2.5 s, most shorter than one
window. Each note 35-81 is rendered alone (velocity ``--velocity``, no reverb), cut from 5 ms before the first
sample over -60 dB of its peak to 10 ms after the last one (at most 2.5 s), peak -3 dBFS, and kept when it passes the
corpus's top-band check. No training stage saw these kits. Writes ``HITS/clips/hitNNN_NOTE.flac`` (24-bit) and
``HITS/clips.json``.
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
from avl_drum_clips import KITS, SF2_DIR, SR
from pedalboard.io import AudioFile

from sagasr_training.corpus.bandwidth import measure
from sagasr_training.corpus.midi import Event, MidiFile, write_midi
from sagasr_training.corpus.render import render_midi

NOTES = range(35, 82)  # the General MIDI drum map
SPACING_S = 4.0  # between two hits: every AVL sample has decayed by then
LEAD_S = 0.5  # silence before the first hit
MAX_SECONDS = 2.5
FLOOR = 1e-3  # -60 dB of the hit's peak
PEAK_DBFS = -3.0
TICKS_PER_QUARTER = 480  # at the default 120 BPM: 960 ticks a second


def hits_midi(velocity: int) -> MidiFile:
    """One hit of each note in ``NOTES`` on channel 0, program 0, ``SPACING_S`` apart."""
    ticks_per_s = 2 * TICKS_PER_QUARTER
    events = [Event(0, 0xC0, bytes([0]))]
    for i, note in enumerate(NOTES):
        on = round((LEAD_S + i * SPACING_S) * ticks_per_s)
        events += [Event(on, 0x90, bytes([note, velocity])), Event(on + ticks_per_s // 2, 0x80, bytes([note, 0]))]
    events.sort(key=lambda e: e.tick)
    events.append(Event(events[-1].tick + round(SPACING_S * ticks_per_s), 0xFF, bytes([0x2F])))
    return MidiFile(TICKS_PER_QUARTER, [events], 0)


def trim_hit(audio: np.ndarray) -> np.ndarray:
    """The hit in ``audio`` (samples,) from 5 ms before it passes -60 dB of its peak to 10 ms after it last does."""
    loud = np.nonzero(np.abs(audio) > FLOOR * np.abs(audio).max())[0]
    start = max(0, int(loud[0]) - SR // 200)
    end = min(audio.size, int(loud[-1]) + SR // 100, start + int(MAX_SECONDS * SR))
    return audio[start:end]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--velocity", type=int, default=100)
    args = parser.parse_args()
    (args.out / "clips").mkdir(parents=True, exist_ok=True)
    records: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        midi = write_midi(hits_midi(args.velocity), Path(tmp) / "hits.mid")
        for kit in KITS:
            audio = render_midi(midi, SF2_DIR / f"{kit}.sf2", Path(tmp) / "render.wav", reverb=False, max_seconds=400)
            for i, note in enumerate(NOTES):
                start = round((LEAD_S + i * SPACING_S - 0.01) * SR)
                part = audio[start : start + round(SPACING_S * SR)]
                if not part.size or not np.abs(part).max() > 0:
                    continue  # a note the kit has no sample for
                clip = trim_hit(part)
                clip = clip * (10 ** (PEAK_DBFS / 20) / np.abs(clip).max())
                if not measure(clip, SR).ok:
                    continue
                path = f"clips/hit{len(records):03d}_{note}.flac"
                with AudioFile(str(args.out / path), "w", SR, 1, bit_depth=24) as f:
                    f.write(clip.astype(np.float32)[None])
                records.append({"path": path, "kit": kit, "note": note, "seconds": round(clip.size / SR, 3)})
    (args.out / "clips.json").write_text(json.dumps(records, indent=1))
    print(f"{len(records)} clips in {args.out}")


if __name__ == "__main__":
    main()
