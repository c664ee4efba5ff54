"""Which input-only predictor gives the restored band's level difference (LD) best? (issue 16, its one missed target)

    nice python benchmarks/stereo_ld_study.py [--seconds 6] [--per-kind 4] [--cutoffs 4000 8000 12000]
                                              [--cache /tmp/stereo_ld_clips.npz] [--out PATH]

No model: every predictor reads the degraded input only (plain resample to 2 x cutoff and back) and is scored
against the reference's per-frame LD of the band above the cutoff with stereo_bench.py's definitions (1024-point
Hann STFT, hop 441 = 10 ms frames; band from 1.05 x cutoff; frames within 50 dB of the loudest; LD limited to
+-30 dB; the error is the mean |LD_hat - LD_ref| over frames, then the mean over clips). The material is
stereo_bench.py's (its builders are imported). The clips are split into a DESIGN and a HELD-OUT half, fixed by
a hash of the clip name (within each kind, sorted by SHA-256 of the name: first half design); every fitted
constant is chosen on the design clips of all cutoffs together and reported on both halves.

Predictors (LD of a band of the degraded input, dB, per frame):
- ``octave``: the octave below the cutoff (c/2 .. 0.95 c), today's ``linked`` mode;
- ``half-octave``, ``third-octave``: c/sqrt2 .. 0.95 c and c/2^(1/3) .. 0.95 c;
- ``below``: everything below 0.95 c (the pan of the whole mix);
- ``extrapolated``: LD of the six third-octave bands from c/4 to 0.95 c, a line in log2 frequency fitted per
  frame (weighted by each band's energy), read at the centre of the first octave above the cutoff (c sqrt2);
- ``..., smoothed k``: the band's LD from its powers summed over k centred frames;
- ``top W Hz below the edge``: a band of fixed width (0.95 c - W .. 0.95 c, W chosen on design clips);
- ``a x ...``: shrinkage towards 0 dB (``a`` fitted on design clips), and a least-squares combination of all;
and floors that read the reference:
- ``per-clip constant``: the best constant LD per clip (the median of the reference's): a perfect static pan;
- ``octave + the best per-clip offset``: today's predictor with a perfect per-clip correction;
- ``first octave above``: the reference's own per-frame LD of 1.05 c .. 2c (at 12 kHz, where the band is less
  than an octave: .. c sqrt2), used for the whole band (which it is part of: a loose floor).
Also: the predicted coherence of the band-below predictors, how far the reference's own LD moves inside the
band (first octave above -> the rest; alternate 345 Hz blocks), the octave's error on longer metric frames,
and (``--mid-side-clips``, needs the embedded default model) why ``mid-side`` misses the LD by 4.5 dB.
"""
from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
from pathlib import Path

import numpy as np
from scipy import signal

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's sagasr_stream
sys.path.insert(0, str(Path(__file__).resolve().parent))
from stereo_bench import RATE, image, kit_clips, mix_clips, octave_below_ild, synth_clips  # noqa: E402

from sagasr_stream.degradation import resample_through  # noqa: E402

HZ = RATE / 1024  # bin width of the metric's STFT
TINY = 1e-20
LONGER_FRAMES = (1, 5, 10)  # the metric's frame, in 10 ms frames
WIDTHS_HZ = (1000.0, 1500.0, 2000.0, 3000.0, 4000.0)  # the fixed-width band's candidates (chosen on design clips)
HALVES = ("design", "held-out")
Clip = tuple[str, np.ndarray]


def frames_of(audio: np.ndarray) -> np.ndarray:
    """(2, samples) -> (2, 513, frames) complex: stereo_bench's 10 ms frames."""
    _, _, spec = signal.stft(audio.astype(np.float64), RATE, "hann", nperseg=1024, noverlap=1024 - 441, boundary=None)
    return spec


def band_stats(spec: np.ndarray, lo_hz: float, hi_hz: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per frame powers of L and R and |cross| in [lo_hz, hi_hz) (bins as stereo_bench: int(f / HZ))."""
    part = spec[:, int(lo_hz / HZ) : max(int(hi_hz / HZ), int(lo_hz / HZ) + 1)]
    left, right = (np.abs(part) ** 2).sum(axis=1)
    return left, right, np.abs((part[0] * np.conj(part[1])).sum(axis=0))


def ld_db(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    return np.clip(10 * np.log10(np.maximum(left, TINY) / np.maximum(right, TINY)), -30, 30)


def coherence(left: np.ndarray, right: np.ndarray, cross: np.ndarray) -> np.ndarray:
    return cross / np.sqrt(np.maximum(left * right, TINY))


def smoothed(x: np.ndarray, frames: int) -> np.ndarray:
    """Sum over ``frames`` centred frames (edges: what is there)."""
    return signal.convolve(x, np.ones(frames), mode="same") if frames > 1 else x


def extrapolated_ld(spec: np.ndarray, cutoff: float) -> np.ndarray:
    """Per frame: the LD of six third-octave bands (c/4 .. 0.95 c) fitted by a line in log2 frequency (weights:
    band energy), read at c sqrt2."""
    edges = cutoff * 2.0 ** (np.arange(-6, 1) / 3)
    edges[-1] = 0.95 * cutoff
    lds, weights, centres = [], [], []
    for lo, hi in zip(edges[:-1], edges[1:]):
        left, right, _ = band_stats(spec, lo, hi)
        lds.append(ld_db(left, right))
        weights.append(left + right)
        centres.append(np.log2(np.sqrt(lo * hi) / cutoff))
    y, w, x = np.array(lds), np.array(weights) + TINY, np.array(centres)[:, None]
    wsum = w.sum(axis=0)
    xm, ym = (w * x).sum(axis=0) / wsum, (w * y).sum(axis=0) / wsum
    slope = (w * (x - xm) * (y - ym)).sum(axis=0) / np.maximum((w * (x - xm) ** 2).sum(axis=0), TINY)
    return np.clip(ym + slope * (0.5 - xm), -30, 30)


def clip_frames(reference: np.ndarray, cutoff: float) -> dict[str, np.ndarray]:
    """Everything the study needs of one clip at one cutoff, on the scored frames."""
    degraded = resample_through(reference, RATE, 2 * cutoff)
    ref, deg = frames_of(reference), frames_of(degraded)
    coh_ref, ld_ref, energy = image(reference, cutoff)  # stereo_bench's metric, its frames
    scored = energy > energy.max() * 1e-5
    out = {"ld_ref": ld_ref, "coh_ref": coh_ref}
    for name, lo in (("octave", cutoff / 2), ("half-octave", cutoff / np.sqrt(2)), ("third-octave", cutoff / 2 ** (1 / 3)),
                     ("below", HZ)):
        left, right, cross = band_stats(deg, lo, 0.95 * cutoff)
        out[name] = ld_db(left, right)
        out["coh " + name] = coherence(left, right, cross)
        if name in ("octave", "half-octave", "third-octave"):
            for k in ((3, 5, 9) if name == "octave" else (5,)):
                out[f"{name}, smoothed {k}"] = ld_db(smoothed(left, k), smoothed(right, k))
                out[f"coh {name}, smoothed {k}"] = coherence(smoothed(left, k), smoothed(right, k), smoothed(cross, k))
    for width in WIDTHS_HZ:  # a band of fixed width in Hz under the edge: the same number of bins at every cutoff
        left, right, cross = band_stats(deg, max(HZ, 0.95 * cutoff - width), 0.95 * cutoff)
        out[f"width {width:g}"] = ld_db(left, right)
        out[f"width {width:g}, smoothed 5"] = ld_db(smoothed(left, 5), smoothed(right, 5))
        out[f"coh width {width:g}, smoothed 5"] = coherence(smoothed(left, 5), smoothed(right, 5), smoothed(cross, 5))
    ref_band = band_stats(ref, np.ceil(1.05 * cutoff / HZ) * HZ, RATE / 2 + HZ)
    octave = band_stats(deg, cutoff / 2, 0.95 * cutoff)
    for k in LONGER_FRAMES:  # the metric on longer frames: powers summed over k centred 10 ms frames
        out[f"ld_ref x{k}"] = ld_db(smoothed(ref_band[0], k), smoothed(ref_band[1], k))
        out[f"octave x{k}"] = ld_db(smoothed(octave[0], k), smoothed(octave[1], k))
    assert np.array_equal(out["octave"], octave_below_ild(degraded, cutoff))  # today's predictor, as stereo_bench has it
    out["extrapolated"] = extrapolated_ld(deg, cutoff)
    first_top = 2 * cutoff if 2 * cutoff < RATE / 2 else cutoff * np.sqrt(2)
    above = band_stats(ref, np.ceil(1.05 * cutoff / HZ) * HZ, first_top)
    out["first octave above (reference)"] = ld_db(above[0], above[1])
    rest = band_stats(ref, first_top, RATE / 2 + HZ)
    out["rest above (reference)"] = ld_db(rest[0], rest[1])
    first = int(np.ceil(1.05 * cutoff / HZ))
    blocks = (np.arange(first, ref.shape[1]) - first) // 8 % 2  # alternate 8-bin (345 Hz) blocks of the band
    for label, which in (("blocks A (reference)", 0), ("blocks B (reference)", 1)):
        part = ref[:, first:][:, blocks == which]
        out[label] = ld_db(*(np.abs(part) ** 2).sum(axis=1))
    return {k: v[scored] for k, v in out.items()}


def split(clips: list[Clip]) -> dict[str, str]:
    """Clip name -> "design" or "held-out": within each kind, sorted by SHA-256 of the name, first half design."""
    kinds: dict[str, list[str]] = {}
    for name, _ in clips:
        kinds.setdefault(name.split(":")[0], []).append(name)
    half = {}
    for names in kinds.values():
        ordered = sorted(names, key=lambda n: hashlib.sha256(n.encode()).hexdigest())
        for i, name in enumerate(ordered):
            half[name] = "design" if i < (len(ordered) + 1) // 2 else "held-out"
    return half


def error(data: list[dict[str, np.ndarray]], predict) -> float:
    """Mean over clips of the mean |LD_hat - LD_ref| over frames (dB)."""
    return float(np.mean([np.abs(predict(d) - d["ld_ref"]).mean() for d in data]))


def coherence_error(data: list[dict[str, np.ndarray]], key: str) -> float:
    return float(np.mean([np.abs(d[key] - d["coh_ref"]).mean() for d in data]))


def fit_scale(data: list[dict[str, np.ndarray]], key: str) -> float:
    """The a in [0, 1.5] (step 0.01) with the least error of a x LD_key on ``data``."""
    grid = np.round(np.arange(0.0, 1.501, 0.01), 2)
    return float(grid[int(np.argmin([error(data, lambda d, a=a: a * d[key]) for a in grid]))])


def mid_side_image(audio: np.ndarray, bins: slice, scored: np.ndarray) -> tuple[float, np.ndarray]:
    """(2, samples) -> the mean mid/side coherence and the per-frame side-to-mid level (dB) in ``bins``."""
    spec = frames_of(np.stack([audio[0] + audio[1], audio[0] - audio[1]]) / 2)[:, bins]
    mid, side = (np.abs(spec) ** 2).sum(axis=1)
    cross = np.abs((spec[0] * np.conj(spec[1])).sum(axis=0))
    return float(coherence(mid, side, cross)[scored].mean()), ld_db(side, mid)[scored]


def side_decorrelated(restored: np.ndarray, first_bin: int) -> np.ndarray:
    """(2, samples) -> the same pair with its side's band (from ``first_bin``) made uncorrelated with its mid's
    per frame: the side's part along the mid removed and the rest scaled back to the side's band level."""
    spec = frames_of(np.stack([restored[0] + restored[1], restored[0] - restored[1]]) / 2)
    mid, side = spec[0], spec[1]
    band_power = lambda x: (np.abs(x[first_bin:]) ** 2).sum(axis=0)  # noqa: E731
    along = (side[first_bin:] * np.conj(mid[first_bin:])).sum(axis=0) / np.maximum(band_power(mid), TINY)
    rest = side - along[None] * mid
    rest *= np.sqrt(band_power(side) / np.maximum(band_power(rest), TINY))[None]
    _, pair = signal.istft(np.stack([mid + rest, mid - rest]), RATE, "hann", nperseg=1024, noverlap=1024 - 441, boundary=None)
    n = restored.shape[1]
    return np.pad(pair, ((0, 0), (0, max(0, n - pair.shape[1]))))[:, :n]


def mid_side_diagnosis(clips: list[Clip], cutoff: float) -> list[str]:
    """Why ``mid-side`` misses the LD (needs the embedded default model): per clip, the band's mid/side
    coherence and side-to-mid level of the reference, of the input's octave below and of ``mid-side``'s output,
    how much that output's band changes with another seed (the sampler's noise), and the LD error of ``mid-side``, of it with its side decorrelated (:func:`side_decorrelated`) and of ``linked``."""
    from sagasr_stream import RestoreSettings, SagaSRModel, restore
    from stereo_bench import compare

    model = SagaSRModel.load()
    rows = ["| clip | M/S coherence: reference band / input octave below / mid-side band | S/M level dB: reference band / "
            "input octave below / mid-side band | per-frame S/M level error dB: octave below / mid-side band | "
            "seed 1 vs 0: band change dB | LD error dB: mid-side / its side decorrelated / linked |", "|---|---|---|---|---|---|"]
    first = int(np.ceil(1.05 * cutoff / HZ))
    for name, clip in clips:
        degraded = resample_through(clip, RATE, 2 * cutoff).astype(np.float32)
        restored = restore(degraded, RATE, model, RestoreSettings(stereo="mid-side"))
        reseeded = restore(degraded, RATE, model, RestoreSettings(stereo="mid-side", seed=1))
        linked = restore(degraded, RATE, model, RestoreSettings(stereo="linked"))
        _, _, energy = image(clip, cutoff)
        scored = energy > energy.max() * 1e-5
        (c_ref, l_ref), (c_oct, l_oct), (c_ms, l_ms) = (
            mid_side_image(clip, slice(first, None), scored),
            mid_side_image(degraded, slice(int(cutoff / 2 / HZ), int(0.95 * cutoff / HZ)), scored),
            mid_side_image(restored, slice(first, None), scored))
        band = lambda x: float((np.abs(frames_of(x)[:, first:]) ** 2).sum())  # noqa: E731
        noise_db = 10 * np.log10(max(band(reseeded - restored), TINY) / band(restored))
        errors = [compare(clip, y, cutoff, degraded)["ild_error_db"] for y in (restored, side_decorrelated(restored, first), linked)]
        rows.append(f"| {name} | {c_ref:.2f} / {c_oct:.2f} / {c_ms:.2f} | {l_ref.mean():+.1f} / {l_oct.mean():+.1f} / {l_ms.mean():+.1f} | "
                    f"{np.abs(l_oct - l_ref).mean():.1f} / {np.abs(l_ms - l_ref).mean():.1f} | "
                    f"{noise_db:.0f} | {errors[0]:.2f} / {errors[1]:.2f} / {errors[2]:.2f} |")
        print(rows[-1], flush=True)
    means = [np.mean([float(r.split("|")[-2].split("/")[k]) for r in rows[2:]]) for k in range(3)]
    rows.append(f"| mean | | | | | {means[0]:.2f} / {means[1]:.2f} / {means[2]:.2f} |")
    return rows


COMBINED = ("octave", "half-octave", "third-octave", "below", "extrapolated", "octave, smoothed 5", "half-octave, smoothed 5",
            "third-octave, smoothed 5", "width 3000, smoothed 5")


def fit_combination(data: list[dict[str, np.ndarray]], keys: tuple[str, ...]) -> np.ndarray:
    """Least-squares weights (and an offset) of the predictors ``keys`` for LD_ref over all frames of ``data``."""
    features = np.concatenate([np.stack([d[k] for k in keys] + [np.ones_like(d["ld_ref"])], axis=1) for d in data])
    return np.linalg.lstsq(features, np.concatenate([d["ld_ref"] for d in data]), rcond=None)[0]


def combine(d: dict[str, np.ndarray], keys: tuple[str, ...], weights: np.ndarray) -> np.ndarray:
    return np.clip(np.stack([d[k] for k in keys] + [np.ones_like(d["ld_ref"])], axis=1) @ weights, -30, 30)


def load_clips(args: argparse.Namespace) -> list[Clip]:
    """stereo_bench's clips, cached in ``args.cache`` (an .npz outside the repository) when given."""
    samples = int(args.seconds * RATE)
    made_with = np.array([args.seconds, args.per_kind], dtype=np.float64)
    if args.cache and args.cache.is_file():
        with np.load(args.cache, allow_pickle=False) as z:
            if "made_with" in z and np.array_equal(z["made_with"], made_with):  # else: built again for these settings
                return [(str(n), z["audio"][i]) for i, n in enumerate(z["names"])]
    with tempfile.TemporaryDirectory() as work:
        clips = synth_clips(args.per_kind, samples, Path(work)) + mix_clips(args.per_kind, samples) + kit_clips(args.per_kind, samples)
    if args.cache:
        np.savez(args.cache, names=np.array([n for n, _ in clips]), audio=np.stack([c for _, c in clips]), made_with=made_with)
    return clips


def predictors(design: list[dict[str, np.ndarray]]) -> dict[str, object]:
    """Label -> predict(clip data) -> LD_hat per frame; every constant fitted on ``design``."""
    a = {key: fit_scale(design, key) for key in ("octave", "half-octave", "octave, smoothed 5", "extrapolated", "half-octave, smoothed 5")}
    weights = fit_combination(design, COMBINED)
    width = min(WIDTHS_HZ, key=lambda w: error(design, lambda d: d[f"width {w:g}, smoothed 5"]))
    wide = f"width {width:g}, smoothed 5"
    a[wide] = fit_scale(design, wide)
    plain = {"octave (today's linked)": "octave", "half-octave": "half-octave", "third-octave": "third-octave",
             "below (whole input band)": "below", "extrapolated (log-frequency line)": "extrapolated",
             "octave, smoothed 3": "octave, smoothed 3", "octave, smoothed 5": "octave, smoothed 5",
             "octave, smoothed 9": "octave, smoothed 9", "half-octave, smoothed 5": "half-octave, smoothed 5",
             "third-octave, smoothed 5": "third-octave, smoothed 5", f"top {width:g} Hz below the edge": f"width {width:g}",
             f"top {width:g} Hz below the edge, smoothed 5": wide}
    out: dict[str, object] = {label: (lambda d, k=key: d[k]) for label, key in plain.items()}
    for key, scale in a.items():
        label = key.replace(wide, f"top {width:g} Hz, smoothed 5")
        out[f"{scale:.2f} x {label}"] = lambda d, k=key, s=scale: s * d[k]
    out["mean of octave and extrapolated"] = lambda d: 0.5 * (d["octave"] + d["extrapolated"])
    out["least-squares combination of all the above (design fit)"] = lambda d: combine(d, COMBINED, weights)
    out["floor: per-clip constant (reference)"] = lambda d: np.full_like(d["ld_ref"], np.median(d["ld_ref"]))
    out["floor: octave + the best per-clip offset (reference)"] = lambda d: d["octave"] + np.median(d["ld_ref"] - d["octave"])
    out["floor: first octave above (reference)"] = lambda d: d["first octave above (reference)"]
    out["0 dB (no level difference)"] = lambda d: np.zeros_like(d["ld_ref"])
    out[""] = wide  # the fixed-width band chosen (for the coherence table)
    return out


def halves_table(title: str, rows: dict[str, object], data: dict, cutoffs: list[float], fmt: str = ".2f") -> list[str]:
    """A markdown table: one row per label, a column per (cutoff, half); ``rows``: label -> score(list of clip data)."""
    cells = [(c, h) for c in cutoffs for h in HALVES]
    lines = [title, "", "| | " + " | ".join(f"{c / 1000:g} kHz {h}" for c, h in cells) + " |", "|---" * (1 + len(cells)) + "|"]
    for label, score in rows.items():
        lines.append(f"| {label} | " + " | ".join(format(score(data[cell]), fmt) for cell in cells) + " |")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--per-kind", type=int, default=4)
    parser.add_argument("--cutoffs", type=float, nargs="+", default=[4000.0, 8000.0, 12000.0])
    parser.add_argument("--cache", type=Path, default=None, help="an .npz (outside the repository) for the built clips")
    parser.add_argument("--out", type=Path, default=None, help="write the markdown tables here too")
    parser.add_argument("--mid-side-clips", type=int, default=0, help="diagnose mid-side on this many clips per kind (model, 8 kHz)")
    args = parser.parse_args()
    clips = load_clips(args)
    half = split(clips)
    data: dict[tuple[float, str], list[dict[str, np.ndarray]]] = {(c, h): [] for c in args.cutoffs for h in HALVES}
    for cutoff in args.cutoffs:
        for name, clip in clips:
            data[(cutoff, half[name])].append(clip_frames(clip, cutoff))
    chosen = predictors([d for c in args.cutoffs for d in data[(c, "design")]])
    wide = chosen.pop("")
    held = [n for n in half if half[n] == "held-out"]
    lines = halves_table(f"Level-difference error (dB; mean over clips of the per-frame mean |LD_hat - LD_ref|); {len(half) - len(held)} "
                         f"design clips, {len(held)} held out ({', '.join(held)}); constants fitted on the design clips of all cutoffs.",
                         {label: (lambda rows, p=p: error(rows, p)) for label, p in chosen.items()}, data, args.cutoffs)
    lines += [""] + halves_table("Coherence error of the band-below predictors (mean |coh_hat - coh_ref|):",
                                 {key: (lambda rows, k=key: coherence_error(rows, "coh " + k))
                                  for key in ("octave", "half-octave", "third-octave", "below", "octave, smoothed 5", wide)},
                                 data, args.cutoffs, ".3f")
    moves = {"first octave above -> the rest of the band": ("first octave above (reference)", "rest above (reference)"),
             "alternate 345 Hz blocks of the band: A -> B": ("blocks A (reference)", "blocks B (reference)")}
    lines += [""] + halves_table("How far the reference's own per-frame LD moves inside the band (mean |difference|, dB):",
                                 {label: (lambda rows, a=a, b=b: float(np.mean([np.abs(d[a] - d[b]).mean() for d in rows])))
                                  for label, (a, b) in moves.items()}, data, args.cutoffs)
    lines += [""] + halves_table("The octave's LD error with longer metric frames (L and R powers summed over k 10 ms frames, "
                                 "reference and predictor alike):",
                                 {f"{10 * k} ms": (lambda rows, k=k: error(rows, lambda d: d[f"octave x{k}"] + d["ld_ref"] - d[f"ld_ref x{k}"]))
                                  for k in LONGER_FRAMES}, data, args.cutoffs)
    if args.mid_side_clips:
        from stereo_bench import used_clips

        lines += ["", "Mid-side at 8 kHz (embedded default model), the band above the cutoff, means over frames:", ""]
        lines += mid_side_diagnosis(used_clips(clips, args.mid_side_clips), 8000.0)
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
