"""Build the studio-recorded drum clips of the model card's generalisation check ("Generalisation").

    apt-get install avldrums.lv2-soundfont mma fluidsynth
    python benchmarks/avl_drum_clips.py --out AVL --clips 30

Random mma grooves (16 bars, random tempo, key and progression: ``sagasr_training.corpus.render.mma_song``) of
which only the drum channel is kept, moved to channel 0, program 0 (the AVL kits are bank-0 presets keyed by the
General MIDI drum notes), rendered through the two AVL kits in turn (Black Pearl, Red Zeppelin: multi-sampled
acoustic kits recorded at 44.1 kHz; no training stage saw them), half with reverb. One 10 s excerpt per groove,
peak -6..-1 dBFS, kept when it passes the corpus's top-band check. Writes ``AVL/clips/avlNN_00.flac`` (24-bit),
``AVL/train.txt`` (so the benchmarks that read a corpus read it: one clip per "piece") and ``AVL/clips.json``.
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
from pedalboard.io import AudioFile

from sagasr_training.corpus.bandwidth import measure
from sagasr_training.corpus.midi import DRUM_CHANNEL, Event, MidiFile, write_midi
from sagasr_training.corpus.render import RenderError, mma_grooves, mma_song, mma_to_midi, render_midi

SR = 44100
KITS = ("Black_Pearl_4_LV2", "Red_Zeppelin_4_LV2")
SF2_DIR = Path("/usr/share/sounds/sf2")
CLIP_SECONDS = 10


def drums_only(midi: MidiFile) -> MidiFile:
    """The drum channel's events on channel 0 with program 0; other channels' events dropped, meta kept."""
    tracks = []
    for track in midi.tracks:
        kept = [e if not 0x80 <= e.status < 0xF0 else Event(e.tick, e.status & 0xF0, e.data)
                for e in track if not 0x80 <= e.status < 0xF0 or (e.status & 0x0F) == DRUM_CHANNEL]
        tracks.append(kept)
    tracks[0] = [Event(0, 0xC0, bytes([0]))] + tracks[0]
    return MidiFile(midi.division, tracks, midi.fmt)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--clips", type=int, default=30)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    grooves = mma_grooves()
    (args.out / "clips").mkdir(parents=True, exist_ok=True)
    records: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for attempt in range(4 * args.clips):
            if len(records) == args.clips:
                break
            kit = KITS[attempt % len(KITS)]
            song, meta = mma_song(rng, grooves, 16)
            try:
                midi = write_midi(drums_only(mma_to_midi(song, work, f"song{attempt}")), work / "drums.mid")
                audio = render_midi(midi, SF2_DIR / f"{kit}.sf2", work / "render.wav",
                                    reverb=bool(rng.random() < 0.5), max_seconds=200)
            except RenderError as exc:
                print(f"skipped: {exc}")
                continue
            if audio.size < (CLIP_SECONDS + 2) * SR or not np.abs(audio).max() > 0:
                continue  # a groove without drums renders silence
            start = int(rng.integers(SR // 2, audio.size - CLIP_SECONDS * SR))
            clip = audio[start : start + CLIP_SECONDS * SR]
            clip = clip * (10 ** (rng.uniform(-6, -1) / 20) / np.abs(clip).max())
            if not measure(clip, SR).ok:
                continue
            path = f"clips/avl{len(records):02d}_00.flac"
            with AudioFile(str(args.out / path), "w", SR, 1, bit_depth=24) as f:
                f.write(clip.astype(np.float32)[None])
            records.append({"path": path, "kit": kit, **meta})
    (args.out / "train.txt").write_text("".join(f"{r['path']}\n" for r in records))
    (args.out / "clips.json").write_text(json.dumps(records, indent=1))
    print(f"{len(records)} clips in {args.out}")


if __name__ == "__main__":
    main()
