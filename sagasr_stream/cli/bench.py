"""``sagasr bench``: the real-time factor of the model on synthetic band-limited noise."""
from __future__ import annotations

import argparse
import time

from .options import add_restore_options, settings_from_args


def cmd_bench(args: argparse.Namespace) -> int:
    import numpy as np

    from ..api import restore
    from ..restorer import Restorer

    restorer = Restorer.load(args.model, settings_from_args(args), args.provider, bool(args.allow_torchscript))
    model = restorer.model
    sr = model.manifest.sample_rate
    rng = np.random.default_rng(0)
    from ..degradation import resample_through

    noise = 0.1 * rng.standard_normal(int(args.seconds * sr))
    audio = resample_through(noise, sr, 16000).astype(np.float32)  # band-limited at 8 kHz: full band would pass through
    start = time.perf_counter()
    restore(audio, sr, restorer)
    elapsed = time.perf_counter() - start
    print(f"{model.manifest.name} on {model.device}: {args.seconds:g} s of audio in {elapsed:.2f} s, "
          f"real-time factor {elapsed / args.seconds:.3f} (below 1 is faster than real time)")
    return 0


def positive_seconds(text: str) -> float:
    """argparse type: a finite number of seconds > 0."""
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or value <= 0 or value > 24 * 3600:
        raise argparse.ArgumentTypeError(f"must be a number of seconds in (0, 86400], got {text!r}")
    return value


def add_bench_command(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``sagasr bench``."""
    p = sub.add_parser("bench", help="measure the real-time factor on synthetic audio")
    p.add_argument("--seconds", type=positive_seconds, default=10.0, metavar="S",
                   help="length of the synthetic test signal in seconds (default 10)")
    add_restore_options(p)
    p.set_defaults(func=cmd_bench)
