"""High-pass -> bandwidth extension -> compressor -> limiter on a file, with native pedalboard plugins.

    python examples/pedalboard_chain.py [INPUT] [-o OUTPUT] [--model BUNDLE]

pedalboard.Pedalboard cannot hold Python plugins, so sagasr_stream.chain.Chain runs native segments and
our effect in order. The effect runs at 44.1 kHz (the model's rate) or any rate above it (a 48 kHz session stays at
48 kHz: the input is kept and only the restored band is resampled); a lower rate is resampled to 44.1 kHz first.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pedalboard
from pedalboard.io import AudioFile

from example_utils import input_or_synthetic, load_model
from sagasr_stream.chain import Chain
from sagasr_stream.effect import BandwidthExtension


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", nargs="?", help="audio file (default: a synthetic band-limited one)")
    parser.add_argument("-o", "--output", default="chain_out.wav", help="output file")
    parser.add_argument("--model", default=None, help="model bundle (default: the embedded model)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the synthetic input")
    args = parser.parse_args()

    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)  # before the work, as restore_file does: not after it
    source = input_or_synthetic(args.input, output.parent, args.seconds)
    model = load_model(args.model)
    with AudioFile(str(source)) as f:
        rate = max(int(f.samplerate), model.manifest.sample_rate)
    with AudioFile(str(source)).resampled_to(float(rate)) as f:  # (channels, samples) float32, >= 44.1 kHz
        audio = f.read(f.frames)
    chain = Chain([
        pedalboard.HighpassFilter(cutoff_frequency_hz=40),
        BandwidthExtension(model),
        pedalboard.Compressor(threshold_db=-18, ratio=3, attack_ms=5, release_ms=120),
        pedalboard.Limiter(threshold_db=-1.0),
    ])
    start = time.perf_counter()
    restored = chain(audio, rate)  # reset=True: same length, time-aligned (the effect's latency is compensated)
    seconds = time.perf_counter() - start
    assert restored.shape == audio.shape
    with AudioFile(str(output), "w", rate, restored.shape[0], bit_depth=24) as f:
        f.write(restored)
    print(f"{source} -> {output}: {audio.shape[1] / rate:.1f} s of audio in {seconds:.2f} s "
          f"(real-time factor {seconds / (audio.shape[1] / rate):.3f}); peak {np.abs(restored).max():.3f}")


if __name__ == "__main__":
    main()
