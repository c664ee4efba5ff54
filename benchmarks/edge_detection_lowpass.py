"""Is a plain low-pass (no resample after it) seen as a cut? The band edge detector on filtered music and noise.

    python benchmarks/edge_detection_lowpass.py tests/data/validation_clips/*.flac

The evaluation's degradations end in a resample (a brick wall at the cutoff); a low-pass alone (an EQ, a
broadcast chain, a tape machine) falls gently into the noise floor, and the detector (``dsp.band_edge_from_power``)
counts a window as band-limited only where the level drops to a floor within a filter's transition band. Each clip
(mono mix), and white noise of the same length (the flattest material, the hardest case), is low-passed once
(``scipy.signal.sosfilt``, as a DAW or sox filters; Butterworth order N: 6N dB per octave) and stored as 16-bit;
per family, order and cutoff: the share of 1.49 s windows (hop 0.74 s) where a cut is found, and the median edge
found (kHz).
Where no cut is found the window passes through unrestored; ``sagasr restore --band-limit HZ`` tells the runtime.
"""
from __future__ import annotations

import argparse

import numpy as np
from pedalboard.io import AudioFile
from scipy import signal

from sagasr_stream.dsp import N_FFT, band_edge_from_power, interior_power

SR, WINDOW = 44100, 65536
FILTERS = [("butter", 2), ("butter", 4), ("butter", 8), ("cheby1", 4), ("bessel", 4), ("ellip", 4)]


def lowpass(family: str, order: int, cutoff_hz: float) -> np.ndarray:
    if family == "cheby1":
        return signal.cheby1(order, 0.5, cutoff_hz, fs=SR, output="sos")
    if family == "ellip":
        return signal.ellip(order, 0.5, 60, cutoff_hz, fs=SR, output="sos")
    if family == "bessel":
        return signal.bessel(order, cutoff_hz, fs=SR, output="sos", norm="mag")
    return signal.butter(order, cutoff_hz, fs=SR, output="sos")


def edges_found(x: np.ndarray) -> list[float]:
    """Per window of ``x`` (16-bit rounded): the edge in Hz, or nan where none is found."""
    x = np.round(np.clip(x, -1, 1) * 32767) / 32767
    edges = []
    for start in range(0, max(1, x.size - WINDOW + 1), WINDOW // 2):
        edge = band_edge_from_power(interior_power(x[None, start : start + WINDOW])[0])
        edges.append(edge * SR / N_FFT if 0 < edge < N_FFT // 2 else np.nan)
    return edges


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("clips", nargs="+")
    parser.add_argument("--cutoffs", type=float, nargs="+", default=[4000.0, 8000.0, 12000.0])
    args = parser.parse_args()
    music = []
    for path in args.clips:
        with AudioFile(path) as f:
            audio = f.read(f.frames).mean(axis=0)
        music.append(0.5 * audio / max(1e-9, np.abs(audio).max()))
    noise = [0.1 * np.random.default_rng(i).standard_normal(m.size) for i, m in enumerate(music)]
    head = " | ".join(f"{c / 1000:g} kHz music | {c / 1000:g} kHz noise" for c in args.cutoffs)
    print(f"{len(music)} clips; share of windows with a cut found (median edge, kHz)\n")
    print(f"| filter | {head} |")
    print("|---|" + "---|" * (2 * len(args.cutoffs)))
    for family, order in FILTERS:
        cells = []
        for cutoff in args.cutoffs:
            sos = lowpass(family, order, cutoff)
            for material in (music, noise):
                edges = np.array([e for x in material for e in edges_found(signal.sosfilt(sos, x))])
                found = edges[np.isfinite(edges)]
                median = f"{np.median(found) / 1000:.1f}" if found.size else "-"
                cells.append(f"{100 * found.size / edges.size:.0f} % ({median})")
        print(f"| {family} order {order} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
