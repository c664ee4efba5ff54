"""Pre-echo of the restored band: how much of it arrives before a hit that follows digital silence.

    python benchmarks/pre_echo.py [--hits 8]

Each hit is white noise decaying by 12 per second (-104 dB over the 0.9-1.1 s after its onset), peak about 0.5,
after 0.9 s of digital silence; it is cut at 8 kHz by the evaluation's filters draw and restored with the default
model under several settings. Printed per setting: the peak of the restored change (output minus input, dBFS) in
22-11, 10-5 and 5-2.5 ms before the onset, and in the 100 ms after it; the median over the hits.
"""
from __future__ import annotations

import argparse

import numpy as np

import sagasr_stream as ss
from sagasr_stream.degradation import degrade

SR = 44100
SETTINGS = {
    "default": ss.RestoreSettings(),
    "band_transients off": ss.RestoreSettings(band_transients="off"),
    "band_smoothing off": ss.RestoreSettings(band_smoothing="off"),
    "sbr_blend off": ss.RestoreSettings(sbr_blend="off"),
}
BEFORE_MS = ((22, 11), (10, 5), (5, 2.5))


def hit(seed: int) -> tuple[np.ndarray, int]:
    """(2 s of a noise hit after silence (samples,) float32, its onset in samples)."""
    rng = np.random.default_rng(seed)
    onset = int(0.9 * SR) + seed * 37
    audio = np.zeros(2 * SR)
    audio[onset:] = rng.standard_normal(audio.size - onset) * np.exp(-np.arange(audio.size - onset) / SR * 12) * 0.5
    return audio.astype(np.float32), onset


def peaks_db(change: np.ndarray, onset: int) -> list[float]:
    """Peak |change| (dBFS) in each span of BEFORE_MS before ``onset``, then in the 100 ms after it."""
    spans = [(onset - int(a * SR / 1000), onset - int(b * SR / 1000)) for a, b in BEFORE_MS]
    spans.append((onset, onset + SR // 10))
    return [float(20 * np.log10(np.abs(change[a:b]).max() + 1e-12)) for a, b in spans]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hits", type=int, default=8)
    args = parser.parse_args()
    model = ss.Restorer.load(None).model
    results: dict[str, list[list[float]]] = {name: [] for name in SETTINGS}
    for seed in range(args.hits):
        reference, onset = hit(seed)
        band_limited = degrade(reference, "filters", 8000.0, np.random.default_rng(100 + seed))
        for name, settings in SETTINGS.items():
            restored = ss.restore(band_limited, SR, model, settings)
            results[name].append(peaks_db(restored - band_limited, onset))
    print("| settings | 22-11 ms before | 10-5 ms before | 5-2.5 ms before | 100 ms after |")
    print("|---|---|---|---|---|")
    for name, rows in results.items():
        print(f"| {name} | " + " | ".join(f"{v:.1f}" for v in np.median(np.array(rows), axis=0)) + " |")


if __name__ == "__main__":
    main()
