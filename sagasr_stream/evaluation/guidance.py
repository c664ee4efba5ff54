"""Does the guidance act? Roll-off, guidance-off and caption measurements on band-limited clips.

For every clip, degraded once at ``cutoff_hz`` (8 kHz by default), the model runs with:
- the given settings ("default");
- ``target_rolloff_hz`` 10 kHz and 18 kHz: the output's measured roll-off (SPEC 98.5 % cumulative STFT
  magnitude, :func:`sagasr_stream.dsp.rolloff_bin`, in Hz) for each, and their difference (18 k - 10 k: > 0 is
  the right direction);
- guidance off (s_a = 1, s_t = 0): LSD-HF against the reference beside the default's;
- a caption that matches the audio and one that contradicts it: how much each changes the output from the
  default run (relative energy of the difference above the cutoff, and LSD-HF between the two outputs), and each
  output's LSD-HF against the reference (does a true caption help, a false one hurt?). Only clips with a caption
  of their own (not empty, not the generic "music") are compared: for the others what would contradict them is
  unknown (a "drum kit" caption could match a drum clip); the report gives how many were left out.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from ..dsp import N_FFT, rolloff_bin, stft
from ..settings import RestoreSettings
from .metrics import lsd_hf
from ..degradation import degrade
from .runner import SAMPLE_RATE, guidance_rng

RestoreWith = Callable[[np.ndarray, RestoreSettings], np.ndarray]  # (samples,) 44.1 kHz float32 -> (samples,)

ROLLOFF_LOW_HZ = 10000.0
ROLLOFF_HIGH_HZ = 18000.0
GENERIC_CAPTION = "music"
DRUM_WORDS = ("drum", "percussion", "kit", "snare", "hi-hat", "hihat", "cymbal", "beat")
CONTRADICTING = {"drums": "solo flute", "other": "drum kit"}


def has_own_caption(caption: str | None) -> bool:
    """Whether ``caption`` says what the clip is: not missing, empty or the generic :data:`GENERIC_CAPTION`."""
    return caption is not None and caption.strip().lower() not in ("", GENERIC_CAPTION)


def contradicting_caption(caption: str) -> str:
    """A caption from another instrument family: "solo flute" for drum captions, else "drum kit"."""
    lowered = caption.lower()
    return CONTRADICTING["drums" if any(w in lowered for w in DRUM_WORDS) else "other"]


def measured_rolloff_hz(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> float:
    """The SPEC roll-off of ``audio`` (samples,): frequency of the first STFT bin (n_fft 2048) where the
    cumulative, time-summed magnitude reaches 98.5 % of the total, in Hz."""
    return float(rolloff_bin(np.asarray(audio, dtype=np.float64)) * sample_rate / N_FFT)


def high_band_change(a: np.ndarray, b: np.ndarray, sample_rate: int, cutoff_hz: float) -> float:
    """Energy of (a - b) above ``cutoff_hz`` relative to b's energy there (STFT bins; 0 = identical)."""
    first = int(np.ceil(cutoff_hz / (sample_rate / 2) * (N_FFT // 2)))
    sa, sb = stft(np.asarray(a, dtype=np.float64))[first:], stft(np.asarray(b, dtype=np.float64))[first:]
    return float((np.abs(sa - sb) ** 2).sum() / max((np.abs(sb) ** 2).sum(), 1e-30))


def guidance_study(
    restore_with: RestoreWith,
    clips: Mapping[str, np.ndarray],
    settings: RestoreSettings,
    captions: Mapping[str, str] | None = None,
    cutoff_hz: float = 8000.0,
    degradation: str = "filters",
    seed: int = 0,
    with_captions: bool = True,
) -> dict:
    """Run the measurements above on every clip of ``clips`` ({name: (samples,) 44.1 kHz float32}).

    ``settings``: the "default" run's settings; ``captions``: {clip name: caption that matches the audio}
    (clips without a caption of their own, :func:`has_own_caption`, are left out of the caption comparison and
    counted in "caption"'s "n_left_out"); ``with_captions`` False (a model without a text encoder) skips the
    caption runs and leaves "caption" None. Returns {"cutoff_hz", "degradation", "n_clips", "rolloff",
    "guidance_off", "caption", "clips"}: per-clip values under "clips", means in the three sections.
    """
    captions = captions or {}
    per_clip = []
    for ci, (name, ref) in enumerate(clips.items()):
        degraded = degrade(ref, degradation, cutoff_hz, guidance_rng(seed, ci))

        def run(**changes: object) -> np.ndarray:
            return np.asarray(restore_with(degraded.copy(), settings.with_(**changes)), dtype=np.float32)

        default = run()
        low, high = run(target_rolloff_hz=ROLLOFF_LOW_HZ), run(target_rolloff_hz=ROLLOFF_HIGH_HZ)
        off = run(cfg_acoustic=1.0, cfg_text=0.0)
        row = {
            "clip": name,
            "reference_rolloff_hz": measured_rolloff_hz(ref),
            "input_rolloff_hz": measured_rolloff_hz(degraded),
            "default_rolloff_hz": measured_rolloff_hz(default),
            "rolloff_low_hz": measured_rolloff_hz(low),
            "rolloff_high_hz": measured_rolloff_hz(high),
            "lsd_hf_default": lsd_hf(default, ref, SAMPLE_RATE, cutoff_hz),
            "lsd_hf_guidance_off": lsd_hf(off, ref, SAMPLE_RATE, cutoff_hz),
        }
        if with_captions and has_own_caption(captions.get(name)):
            matching = captions[name]
            contra = contradicting_caption(matching)
            out_match, out_contra = run(caption=matching), run(caption=contra)
            row.update({
                "caption_matching": matching,
                "caption_contradicting": contra,
                "change_matching": high_band_change(out_match, default, SAMPLE_RATE, cutoff_hz),
                "change_contradicting": high_band_change(out_contra, default, SAMPLE_RATE, cutoff_hz),
                "lsd_hf_change_matching": lsd_hf(out_match, default, SAMPLE_RATE, cutoff_hz),
                "lsd_hf_change_contradicting": lsd_hf(out_contra, default, SAMPLE_RATE, cutoff_hz),
                "lsd_hf_matching": lsd_hf(out_match, ref, SAMPLE_RATE, cutoff_hz),
                "lsd_hf_contradicting": lsd_hf(out_contra, ref, SAMPLE_RATE, cutoff_hz),
            })
        per_clip.append(row)
    summary = summarize_guidance(per_clip)
    if with_captions:
        compared = sum("change_matching" in r for r in per_clip)
        summary["caption"] = {**(summary["caption"] or {}), "n_clips": compared, "n_left_out": len(per_clip) - compared}
    return {"cutoff_hz": float(cutoff_hz), "degradation": degradation, "n_clips": len(per_clip), **summary,
            "clips": per_clip}


def _mean(rows: Sequence[dict], key: str) -> float:
    return float(np.mean([r[key] for r in rows]))


def summarize_guidance(rows: Sequence[dict]) -> dict:
    """The means of :func:`guidance_study`'s per-clip values, in three sections ("caption": over the clips
    compared with captions, None when none was)."""
    captioned = [r for r in rows if "change_matching" in r]
    diffs = [r["rolloff_high_hz"] - r["rolloff_low_hz"] for r in rows]
    off = [r["lsd_hf_guidance_off"] - r["lsd_hf_default"] for r in rows]
    return {
        "rolloff": {
            "target_low_hz": ROLLOFF_LOW_HZ, "target_high_hz": ROLLOFF_HIGH_HZ,
            "reference_mean_hz": _mean(rows, "reference_rolloff_hz"), "input_mean_hz": _mean(rows, "input_rolloff_hz"),
            "default_mean_hz": _mean(rows, "default_rolloff_hz"),
            "low_mean_hz": _mean(rows, "rolloff_low_hz"), "high_mean_hz": _mean(rows, "rolloff_high_hz"),
            "mean_difference_hz": float(np.mean(diffs)),
            "share_right_direction": float(np.mean([d > 0 for d in diffs])),
        },
        "guidance_off": {
            "lsd_hf_default": _mean(rows, "lsd_hf_default"), "lsd_hf_off": _mean(rows, "lsd_hf_guidance_off"),
            "mean_change": float(np.mean(off)), "mean_abs_change": float(np.mean(np.abs(off))),
        },
        "caption": None if not captioned else {
            "change_matching": _mean(captioned, "change_matching"),
            "change_contradicting": _mean(captioned, "change_contradicting"),
            "lsd_hf_change_matching": _mean(captioned, "lsd_hf_change_matching"),
            "lsd_hf_change_contradicting": _mean(captioned, "lsd_hf_change_contradicting"),
            "share_contradicting_larger": float(np.mean([r["change_contradicting"] > r["change_matching"]
                                                         for r in captioned])),
            "lsd_hf_matching": _mean(captioned, "lsd_hf_matching"),
            "lsd_hf_contradicting": _mean(captioned, "lsd_hf_contradicting"),
        },
    }


def guidance_markdown(study: Mapping) -> str:
    """The guidance section of report.md; ``study["default_caption"]`` (if given) names the default run's caption."""
    r, g, c = study["rolloff"], study["guidance_off"], study["caption"]
    default = study.get("default_caption") or ""
    default_label = f"default caption {default!r}" if default else "no caption"
    return "\n".join([
        f"## Guidance ({study['degradation']} at {study['cutoff_hz']:g} Hz, {study['n_clips']} clips)",
        "",
        "| measurement | value |",
        "|---|---|",
        f"| roll-off (mean): reference / input / output at the default target | {r['reference_mean_hz']:.0f} / "
        f"{r['input_mean_hz']:.0f} / {r['default_mean_hz']:.0f} Hz |",
        f"| output roll-off, target {r['target_low_hz']:g} Hz | {r['low_mean_hz']:.0f} Hz |",
        f"| output roll-off, target {r['target_high_hz']:g} Hz | {r['high_mean_hz']:.0f} Hz |",
        f"| difference (high - low; > 0 = right direction) | {r['mean_difference_hz']:+.0f} Hz "
        f"({r['share_right_direction']:.0%} of clips > 0) |",
        f"| LSD-HF default / guidance off (s_a 1, s_t 0) | {g['lsd_hf_default']:.4f} / {g['lsd_hf_off']:.4f} "
        f"(mean change {g['mean_change']:+.2e}, mean abs {g['mean_abs_change']:.2e}) |",
    ] + (["| caption change | not measured: the model has no text encoder |"] if c is None else [
        f"| caption change | not measured: no clip has a caption of its own (--captions; {c['n_left_out']} left out) |"]
        if "change_matching" not in c else [
        f"| caption comparison: clips with a caption of their own / left out (none or generic) | {c['n_clips']} / "
        f"{c['n_left_out']} |",
        f"| caption change: matching / contradicting (relative HF energy of the difference) | "
        f"{c['change_matching']:.2e} / {c['change_contradicting']:.2e} "
        f"(contradicting larger on {c['share_contradicting_larger']:.0%} of clips) |",
        f"| caption change: LSD-HF between outputs, matching / contradicting | "
        f"{c['lsd_hf_change_matching']:.2e} / {c['lsd_hf_change_contradicting']:.2e} |",
        f"| LSD-HF against the reference: {default_label} / matching / contradicting | {g['lsd_hf_default']:.4f} / "
        f"{c['lsd_hf_matching']:.4f} / {c['lsd_hf_contradicting']:.4f} |",
    ]) + [""])
