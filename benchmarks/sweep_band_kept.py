"""How much of the input's own band a restoration changes under a sweep (model card, "A sweep over a quieter band").

A log sweep 100 Hz -> 5.5 kHz over 20 s (0.4 peak) over white noise (``--noise`` rms), both low-passed at 6 kHz
(Chebyshev I order 8, zero-phase), restored with a bundle (default: the embedded model). Prints each window's band
edge and, per second, the change below 5 kHz relative to the input there (dB).

    python benchmarks/sweep_band_kept.py [--noise 0.01] [--model BUNDLE]
"""
from __future__ import annotations

import argparse

import numpy as np
import scipy.signal as sg

import sagasr_stream as ss
from sagasr_stream.bandlimit import window_limits
from sagasr_stream.engine import WindowRestorer

RATE = 44100


def sweep_over_noise(noise: float, seconds: float = 20.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    phase = 2 * np.pi * 100 * 20 / np.log(55) * (np.exp(t / 20 * np.log(55)) - 1)
    x = 0.4 * np.sin(phase) + noise * np.random.default_rng(0).standard_normal(t.size)
    return sg.sosfiltfilt(sg.cheby1(8, 0.5, 6000, fs=RATE, output="sos"), x).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--noise", type=float, default=0.01)
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    x = sweep_over_noise(args.noise)
    restorer = ss.Restorer(ss.SagaSRModel.load(args.model))
    plan, windows = restorer.plan, WindowRestorer(restorer.model, restorer.settings)
    starts = range(0, plan.n_windows(x.size) * plan.hop, plan.hop)
    audio = np.stack([np.pad(x[s : s + plan.window], (0, max(0, s + plan.window - x.size))) for s in starts])
    edges = windows.edge_bins(audio, limits=[limits[0] for limits in window_limits(x[None], plan)])
    print("window edges (Hz):", [int(e * RATE / 2048) for e in edges])
    y = restorer.restore(x[None])[0]
    low = sg.butter(8, 5000, fs=RATE, output="sos")
    change, kept = sg.sosfiltfilt(low, y - x), sg.sosfiltfilt(low, x)
    per_second = [10 * np.log10(np.sum(change[i : i + RATE] ** 2) / np.sum(kept[i : i + RATE] ** 2) + 1e-30)
                  for i in range(0, x.size, RATE)]
    print("change below 5 kHz per second (dB):", " ".join(f"{d:.1f}" for d in per_second))


if __name__ == "__main__":
    main()
