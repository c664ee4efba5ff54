"""Run one job: a MIDI piece (rendered with fluidsynth) or drum patterns, cut into vetted clips."""
from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

from .audio import write_audio
from .bandwidth import measure
from .captions import drum_caption, midi_caption
from .config import SAMPLE_RATE, SILENCE_DBFS, Context
from .drums import KitError, render_hits, sequence
from .gm import MELODIC_FOR_RANDOM, program_map
from .midi import DRUM_CHANNEL, MidiError, note_programs, read_midi, set_programs, truncate, write_midi
from .render import RenderError, mma_song, mma_to_midi, music21_to_midi, render_midi
from .sf2 import SF2Error

RENDER_TAIL_S = 60.0  # render time allowed past a (truncated) piece's length: releases and reverb tails


def _clip_name(job: dict, k: int, fmt: str) -> str:
    return f"clips/{job['index']:06d}_{k:02d}.{fmt}"


def _vet_and_write(ctx: Context, job: dict, k: int, clip: np.ndarray, start_s: float, out: Path, meta: dict) -> dict:
    """Silence and bandwidth checks; writes the clip when it passes. Returns its record."""
    rms = float(np.sqrt(np.mean(clip**2)))
    record = {"job": job["index"], "kind": job["kind"], "start_s": round(start_s, 3), **meta}
    if rms <= 10 ** (SILENCE_DBFS / 20):
        return {**record, "kept": False, "reason": "silent"}
    bw = measure(clip, SAMPLE_RATE)
    record["bandwidth"] = bw.as_dict()
    if not bw.ok:
        return {**record, "kept": False, "reason": "no top band"}
    path = _clip_name(job, k, ctx.config.audio_format)
    write_audio(out / path, clip, SAMPLE_RATE)
    return {**record, "kept": True, "path": path, "seconds": round(clip.size / SAMPLE_RATE, 3)}


def _pick_windows(total: int, clip: int, rng: np.random.Generator, most: int) -> list[int]:
    n = total // clip
    if n <= 0:
        return []
    chosen = sorted(rng.choice(n, size=min(n, most), replace=False).tolist())
    return [c * clip for c in chosen]


def _midi_job(ctx: Context, job: dict, rng: np.random.Generator, work: Path) -> tuple[Path, dict[str, str]]:
    """Make the job's MIDI file (programs mapped to playable presets); returns (path, metadata)."""
    remap = program_map(ctx.melodic)
    drum_ok = set(ctx.drum_programs)
    name = f"job{job['index']:06d}"
    kind = job["kind"]
    meta: dict[str, str] = {}
    if kind == "music21":
        midi = music21_to_midi(job["piece"], work / f"{name}_src.mid", ctx.config.max_piece_seconds)
        rel = str(Path(job["piece"]).relative_to(ctx.music21_root)) if ctx.music21_root else job["piece"]
        meta = {"group": f"music21:{rel}", "source": rel, "style": f"{Path(rel).parts[0]} piece"}
        chosen: dict[int, int] = {}

        def choose(ch: int, old: int) -> int:
            if ch == DRUM_CHANNEL:
                return old if old in drum_ok else 0
            if ch not in chosen:
                chosen[ch] = remap[int(MELODIC_FOR_RANDOM[int(rng.integers(len(MELODIC_FOR_RANDOM)))])]
            return chosen[ch]
    elif kind == "openmsx":
        midi = read_midi(job["piece"])
        stem = Path(job["piece"]).stem
        meta = {"group": f"openmsx:{stem}", "source": f"openmsx/{Path(job['piece']).name}", "style": "game music"}
        family_shift: dict[int, int] = {}

        def choose(ch: int, old: int) -> int:
            if ch == DRUM_CHANNEL:
                return old if old in drum_ok else 0
            if job.get("variation", 0) == 0:
                return remap[old]
            family = [p for p in ctx.melodic if p // 8 == old // 8] or ctx.melodic
            if old not in family_shift:
                family_shift[old] = family[int(rng.integers(len(family)))]
            return family_shift[old]
    else:  # mma
        song, info = mma_song(rng, ctx.grooves, int(rng.integers(16, 33)))
        midi = mma_to_midi(song, work, f"{name}_src")
        meta = {"group": f"mma:{job['seed']}", "source": f"mma groove {info['groove']} in {info['key']}",
                "style": f"{info['groove']} groove"}

        def choose(ch: int, old: int) -> int:
            if ch == DRUM_CHANNEL:
                return old if old in drum_ok else 0
            return remap[old]

    midi = set_programs(truncate(midi, ctx.config.max_piece_seconds), choose)
    return write_midi(midi, work / f"{name}.mid"), meta


def run_job(ctx: Context, job: dict) -> dict:
    """Render one job into clips under ``config.out``; returns {index, clips: [records], error}."""
    rng = np.random.default_rng(job["seed"])
    out = ctx.config.out
    clip_len = int(round(ctx.config.clip_seconds * SAMPLE_RATE))
    records = []
    try:
        with tempfile.TemporaryDirectory(prefix="corpus_job_") as tmp:
            work = Path(tmp)
            if job["kind"] == "drums":
                kit = ctx.kits[job["kit"]]
                cache: dict = {}
                for k in range(max(1, ctx.config.max_clips_per_piece // 2)):
                    hits, bpm, style = sequence(kit, ctx.config.clip_seconds, rng)
                    audio = render_hits(kit, hits, ctx.config.clip_seconds, cache)
                    peak = np.abs(audio).max()
                    audio = audio * (10 ** (rng.uniform(-6, -1) / 20) / peak) if peak > 0 else audio
                    used = [kit.instruments[i].name for i, _ in Counter(h.instrument for h in hits).most_common()]
                    meta = {"group": f"kit:{kit.name}", "source": f"hydrogen kit {kit.folder.name}",
                            "caption": drum_caption(kit.name, used, bpm, style), "tempo_bpm": round(bpm, 1)}
                    records.append(_vet_and_write(ctx, job, k, audio, 0.0, out, meta))
            else:
                if ctx.bank is None:
                    raise RenderError("no SoundFont to render with: prepare() sets the context's bank for MIDI sources")
                midi_path, piece_meta = _midi_job(ctx, job, rng, work)
                midi = read_midi(midi_path)
                audio = render_midi(midi_path, ctx.bank, work / "render.wav", reverb=bool(rng.random() < 0.7),
                                    max_seconds=ctx.config.max_piece_seconds + RENDER_TAIL_S)
                peak = np.abs(audio).max()
                if peak > 0:
                    audio = audio * (0.9 / peak)
                notes = note_programs(midi)
                bpm = midi.bpm()
                last_note = max((e for *_, e in notes), default=0.0)
                usable = min(audio.size, int((last_note + 1.0) * SAMPLE_RATE))  # no windows in the silent tail
                for k, start in enumerate(_pick_windows(usable, clip_len, rng, ctx.config.max_clips_per_piece)):
                    t0, t1 = start / SAMPLE_RATE, (start + clip_len) / SAMPLE_RATE
                    heard = Counter(p for ch, p, s, e in notes if ch != DRUM_CHANNEL and s < t1 and e > t0)
                    drums = any(ch == DRUM_CHANNEL and s < t1 and e > t0 for ch, p, s, e in notes)
                    caption = midi_caption([p for p, _ in heard.most_common()], drums, bpm, piece_meta["style"])
                    rec_meta = {"group": piece_meta["group"], "source": piece_meta["source"], "caption": caption,
                                "tempo_bpm": round(bpm, 1), "programs": sorted(heard)}
                    records.append(_vet_and_write(ctx, job, k, audio[start : start + clip_len], start / SAMPLE_RATE, out, rec_meta))
    except (RenderError, MidiError, KitError, SF2Error, ValueError, OSError) as exc:
        return {"index": job["index"], "clips": records, "error": f"{job['kind']} job {job['index']}: {exc}"}
    return {"index": job["index"], "clips": records, "error": None}
