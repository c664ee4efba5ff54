"""Stereo image of the restored band, per stereo mode, and the cost of ``linked`` (issue 16).

    nice python benchmarks/stereo_bench.py [--seconds 6] [--per-kind 4] [--per-kind-other 2] [--cutoffs 8000 4000 12000]
                                           [--rtf-repeats 3] [--out benchmarks/stereo_results.md]

Material (44.1 kHz stereo, ``--per-kind`` clips of ``--seconds`` each at the first cutoff, ``--per-kind-other``
at the others, all built offline and deterministically):
- ``synth``: openmsx MIDI files rendered in stereo by fluidsynth with the corpus builder's pruned bank (GM pans,
  stereo samples, fluidsynth's reverb and chorus);
- ``mix``: 2-3 mono corpus clips (/work/data/corpus/clips) at constant-power pans, through a stereo
  pedalboard.Reverb (width 1);
- ``kit``: grooves from the corpus builder's drum sequencer played with the stereo samples of real Hydrogen
  kits (multi-mic recordings; a mono sample is panned by its role).
Each clip is degraded by plain resampling to twice the cutoff and back (degradation.resample_through) and restored by
the embedded default model in every stereo mode. Metrics on the band above the cutoff (from 1.05 x cutoff),
per 10 ms frame (1024-point Hann STFT, hop 441), on frames where the reference band is within 50 dB of its
loudest frame: the inter-channel coherence |<L, R>| / (|L| |R|) and the level difference 10 log10(|L|^2/|R|^2)
(limited to +-30 dB), against the reference's (the clip before degradation).
RTF: restore() of the same clip as stereo ``linked``, stereo ``independent`` and its left channel alone (mono),
interleaved, best of ``--rtf-repeats``.
"""
from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pedalboard
from pedalboard.io import AudioFile
from scipy import signal

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's sagasr_stream
from sagasr_stream import RestoreSettings, SagaSRModel, restore
from sagasr_stream.degradation import resample_through

RATE = 44100
MODES = ("linked", "mid-side", "independent", "mono")
OPENMSX = Path("/usr/share/games/openttd/baseset/openmsx")
BANKS = (Path("/work/data/corpus/_work/bank_pruned.sf2"), Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"))
CLIPS = Path("/work/data/corpus/clips")
KITS = Path("/usr/share/hydrogen/data/drumkits")
STEREO_KITS = ("BJA_Pacific", "ColomboAcousticDrumkit", "ForzeeStereo", "Millo-Drums_v.1")
ROLE_PAN = {"kick": 0.0, "snare": -0.15, "clap": 0.1, "hihat_open": 0.45, "hihat_closed": 0.45, "ride": -0.5,
            "crash": 0.6, "tom": -0.3, "perc": 0.3}


def read_stereo(path: Path) -> np.ndarray:
    """(2, samples) float32 at 44.1 kHz (mono duplicated)."""
    with AudioFile(str(path)).resampled_to(RATE) as f:
        audio = f.read(f.frames)
    return np.repeat(audio, 2, axis=0) if audio.shape[0] == 1 else audio[:2]


def pan(mono: np.ndarray, position: float) -> np.ndarray:
    """Constant-power pan, position in [-1, 1] -> (2, samples)."""
    angle = (position + 1) * np.pi / 4
    return np.stack([np.cos(angle) * mono, np.sin(angle) * mono])


def loudest_segment(audio: np.ndarray, samples: int) -> np.ndarray:
    """The ``samples``-long stretch (on a 0.5 s grid) with the most energy above 8 kHz: material with a top band."""
    top = signal.sosfilt(signal.butter(4, 8000, "high", fs=RATE, output="sos"), audio.mean(axis=0))
    hop = RATE // 2
    starts = range(0, max(1, audio.shape[1] - samples), hop)
    best = max(starts, key=lambda s: float(np.sum(top[s : s + samples] ** 2)))
    return audio[:, best : best + samples]


def normalise(audio: np.ndarray) -> np.ndarray:
    return (0.5 * audio / max(float(np.abs(audio).max()), 1e-9)).astype(np.float32)


def synth_clips(count: int, samples: int, work: Path) -> list[tuple[str, np.ndarray]]:
    bank = next(b for b in BANKS if b.is_file())
    out = []
    for midi in sorted(OPENMSX.glob("*.mid"))[::7][:count]:
        wav = work / (midi.stem + ".wav")
        subprocess.run(["fluidsynth", "-ni", "-q", "-g", "0.4", "-r", str(RATE), "-O", "float", "-T", "wav", "-R", "1",
                        "-C", "1", "-F", str(wav), str(bank), str(midi)], check=True, capture_output=True, timeout=900)
        out.append((f"synth:{midi.stem}", normalise(loudest_segment(read_stereo(wav)[:, : 90 * RATE], samples))))
    return out


def mix_clips(count: int, samples: int) -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(16)
    files = sorted(CLIPS.glob("*.flac"))
    out = []
    for i in range(count):
        picks = rng.choice(len(files), int(rng.integers(2, 4)), replace=False)
        mix = np.zeros((2, samples), np.float32)
        for k in picks:
            mono = read_stereo(files[k])[0, :samples]
            mix[:, : mono.size] += pan(mono / max(float(np.abs(mono).max()), 1e-9), float(rng.uniform(-0.9, 0.9)))
        reverb = pedalboard.Reverb(room_size=float(rng.uniform(0.3, 0.8)), wet_level=0.25, dry_level=0.8, width=1.0)
        names = "+".join(files[k].stem for k in picks)
        out.append((f"mix:{names}", normalise(reverb(mix, RATE))))
    return out


def kit_clips(count: int, samples: int) -> list[tuple[str, np.ndarray]]:
    from sagasr_training.corpus import drums

    rng = np.random.default_rng(16)
    out = []
    for name in STEREO_KITS[:count]:
        kit = drums.parse_kit(KITS / name / "drumkit.xml")
        hits, _, _ = drums.sequence(kit, samples / RATE, rng)
        mix = np.zeros((2, samples))
        cache: dict[Path, np.ndarray] = {}
        for hit in hits:
            inst = kit.instruments[hit.instrument]
            layer = drums.choose_layer(inst, hit.velocity)
            if layer.path not in cache:
                cache[layer.path] = read_stereo(layer.path).astype(np.float64)
                with AudioFile(str(layer.path)) as f:
                    if f.num_channels == 1:
                        cache[layer.path] = pan(cache[layer.path][0], ROLE_PAN.get(inst.role, 0.0))
            start = int(round(hit.time_s * RATE))
            piece = cache[layer.path][:, : samples - start]
            mix[:, start : start + piece.shape[1]] += piece * inst.gain * layer.gain * hit.velocity
        out.append((f"kit:{name}", normalise(mix)))
    return out


def band_frames(audio: np.ndarray, cutoff_hz: float) -> np.ndarray:
    """(2, samples) -> (2, bins above 1.05 x cutoff, frames) complex: 10 ms frames."""
    _, _, spec = signal.stft(audio.astype(np.float64), RATE, "hann", nperseg=1024, noverlap=1024 - 441, boundary=None)
    first = int(np.ceil(1.05 * cutoff_hz / (RATE / 1024)))
    return spec[:, first:, :]


def image(audio: np.ndarray, cutoff_hz: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per frame: coherence, level difference L/R (dB, +-30), band energy (both channels)."""
    spec = band_frames(audio, cutoff_hz)
    left, right = (np.abs(spec) ** 2).sum(axis=1)
    cross = np.abs((spec[0] * np.conj(spec[1])).sum(axis=0))
    tiny = 1e-20
    coherence = cross / np.sqrt(np.maximum(left * right, tiny))
    ild = np.clip(10 * np.log10(np.maximum(left, tiny) / np.maximum(right, tiny)), -30, 30)
    return coherence, ild, left + right


def octave_below_ild(degraded: np.ndarray, cutoff_hz: float) -> np.ndarray:
    """Per 10 ms frame, the level difference (dB, +-30) of the octave below the cutoff (to 0.95 x cutoff)."""
    _, _, spec = signal.stft(degraded.astype(np.float64), RATE, "hann", nperseg=1024, noverlap=1024 - 441, boundary=None)
    hz = RATE / 1024
    left, right = (np.abs(spec[:, int(cutoff_hz / 2 / hz) : int(0.95 * cutoff_hz / hz)]) ** 2).sum(axis=1)
    return np.clip(10 * np.log10(np.maximum(left, 1e-20) / np.maximum(right, 1e-20)), -30, 30)


def compare(reference: np.ndarray, restored: np.ndarray, cutoff_hz: float, degraded: np.ndarray) -> dict[str, float]:
    coh_ref, ild_ref, energy = image(reference, cutoff_hz)
    coh, ild, energy_out = image(restored, cutoff_hz)
    frames = energy > energy.max() * 1e-5
    return {
        "ild_bound_db": float(np.abs(octave_below_ild(degraded, cutoff_hz) - ild_ref)[frames].mean()),
        "coherence": float(coh[frames].mean()),
        "coherence_ref": float(coh_ref[frames].mean()),
        "coherence_error": float(np.abs(coh[frames] - coh_ref[frames]).mean()),
        "ild_error_db": float(np.abs(ild[frames] - ild_ref[frames]).mean()),
        "band_level_db": float(10 * np.log10(energy_out[frames].sum() / energy[frames].sum())),
    }


def rtf(model: SagaSRModel, clip: np.ndarray, repeats: int) -> dict[str, float]:
    seconds = clip.shape[1] / RATE
    runs = {"mono": lambda: restore(clip[0], RATE, model),
            "linked": lambda: restore(clip, RATE, model, RestoreSettings(stereo="linked")),
            "independent": lambda: restore(clip, RATE, model, RestoreSettings(stereo="independent"))}
    best = {name: float("inf") for name in runs}
    runs["mono"]()  # warm up
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - start)
    return {name: t / seconds for name, t in best.items()}


def used_clips(clips: list[tuple[str, np.ndarray]], per_kind: int) -> list[tuple[str, np.ndarray]]:
    """The first ``per_kind`` clips of each kind (the name's prefix before ':')."""
    seen: dict[str, int] = {}
    out = []
    for name, clip in clips:
        kind = name.split(":")[0]
        seen[kind] = seen.get(kind, 0) + 1
        if seen[kind] <= per_kind:
            out.append((name, clip))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--per-kind", type=int, default=4)
    parser.add_argument("--per-kind-other", type=int, default=2, help="clips per kind at the cutoffs after the first")
    parser.add_argument("--cutoffs", type=float, nargs="+", default=[8000.0, 4000.0, 12000.0])
    parser.add_argument("--rtf-repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("stereo_results.md"))
    args = parser.parse_args()
    samples = int(args.seconds * RATE)
    model = SagaSRModel.load()
    with tempfile.TemporaryDirectory() as work:
        clips = synth_clips(args.per_kind, samples, Path(work)) + mix_clips(args.per_kind, samples) + kit_clips(args.per_kind, samples)
    lines = [f"# Stereo modes: image of the restored band (`{' '.join(sys.argv)}`)", "",
             f"Model: {model.manifest.name}; {len(clips)} clips of {args.seconds:g} s; {platform.processor() or platform.machine()}.", ""]
    table: dict[tuple[float, str], list[dict[str, float]]] = {}
    for cutoff in args.cutoffs:
        for name, clip in used_clips(clips, args.per_kind if cutoff == args.cutoffs[0] else args.per_kind_other):
            degraded = resample_through(clip, RATE, 2 * cutoff).astype(np.float32)
            for mode in MODES:
                restored = restore(degraded, RATE, model, RestoreSettings(stereo=mode))
                result = compare(clip, restored, cutoff, degraded)
                table.setdefault((cutoff, mode), []).append(result)
                print(f"{cutoff:>6.0f} {mode:<12} {name:<40} " + " ".join(f"{k}={v:.3f}" for k, v in result.items()), flush=True)
    for cutoff in args.cutoffs:
        lines += [f"## Cutoff {cutoff:g} Hz (plain resample to {2 * cutoff:g} Hz)", "",
                  "| mode | coherence (mean) | reference coherence | per-frame coherence error | level-difference error (dB) | band level vs reference (dB) |",
                  "|---|---|---|---|---|---|"]
        ref = table[(cutoff, MODES[0])]
        lines.append(f"| reference | {np.mean([r['coherence_ref'] for r in ref]):.3f} | {np.mean([r['coherence_ref'] for r in ref]):.3f} | 0 | 0 | 0 |")
        lines.append(f"| (the reference's own octave below, per frame) | | | | {np.mean([r['ild_bound_db'] for r in ref]):.2f} | |")
        for mode in MODES:
            rows = table[(cutoff, mode)]
            mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
            lines.append(f"| {mode} | {mean['coherence']:.3f} | {mean['coherence_ref']:.3f} | {mean['coherence_error']:.3f} | "
                         f"{mean['ild_error_db']:.2f} | {mean['band_level_db']:+.1f} |")
        lines.append("")
        lines += ["Per clip (linked): coherence / reference coherence / level-difference error dB / the octave below's", ""]
        for (name, _), r in zip(used_clips(clips, args.per_kind if cutoff == args.cutoffs[0] else args.per_kind_other), table[(cutoff, "linked")]):
            lines.append(f"- {name}: {r['coherence']:.3f} / {r['coherence_ref']:.3f} / {r['ild_error_db']:.2f} / {r['ild_bound_db']:.2f}")
        lines.append("")
    if args.rtf_repeats > 0:
        clip = resample_through(clips[0][1], RATE, 16000.0).astype(np.float32)
        speed = rtf(model, clip, args.rtf_repeats)
        lines += [f"## Cost (RTF = compute time / audio time, best of {args.rtf_repeats}, interleaved, {args.seconds:g} s clip, 8 kHz cutoff)", "",
                  "| run | RTF | vs mono |", "|---|---|---|"]
        lines += [f"| {name} | {value:.3f} | {value / speed['mono']:.2f}x |" for name, value in speed.items()]
        lines.append("")
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
