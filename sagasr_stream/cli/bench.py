"""``sagasr bench``: the real-time factor of the model on synthetic band-limited noise."""
from __future__ import annotations

import argparse
import time

from ..validation import MIN_RATE
from .options import add_restore_options, number_type, settings_from_args


def cmd_bench(args: argparse.Namespace) -> int:
    import numpy as np

    from ..api import restore
    from ..restorer import Restorer

    restorer = Restorer.load(args.model, settings_from_args(args), args.provider, bool(args.allow_torchscript))
    model = restorer.model
    sr = model.manifest.sample_rate
    rng = np.random.default_rng(0)
    from ..degradation import resample_through

    noise = 0.1 * rng.standard_normal(max(1, int(round(args.seconds * sr))))
    audio = resample_through(noise, sr, 16000).astype(np.float32)  # band-limited at 8 kHz: full band would pass through
    start = time.perf_counter()
    restore(audio, sr, restorer)
    elapsed = time.perf_counter() - start
    print(f"{model.manifest.name} on {model.device}: {args.seconds:g} s of audio in {elapsed:.2f} s, "
          f"real-time factor {elapsed / args.seconds:.3f} (below 1 is faster than real time)")
    return 0


#: at least one sample at the lowest rate a model may have (1 ms at 1 kHz), at most a day
bench_seconds = number_type(float, "a number of seconds", lambda v: 1.0 / MIN_RATE <= v <= 24 * 3600,
                            f"a number of seconds in [{1.0 / MIN_RATE:g}, 86400]")


def add_bench_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``sagasr bench``."""
    p = sub.add_parser("bench", help="measure the real-time factor on synthetic audio")
    p.add_argument("--seconds", type=bench_seconds, default=10.0, metavar="S",
                   help="length of the synthetic test signal in seconds (default 10)")
    add_restore_options(p)
    p.set_defaults(func=cmd_bench)
