"""``sagasr live``: its options and its run loop over :class:`~sagasr_stream.live.LiveRestorer`
(the library module :mod:`sagasr_stream.live` holds no argument parsing)."""
from __future__ import annotations

import argparse
import sys
import time
from typing import Any, Callable

from ..errors import SagasrError
from ..live import LiveRestorer, import_sounddevice, parse_device
from ..settings import RestoreSettings
from .fields import add_flags, flag_values
from .options import RESTORE_FLAGS

#: the restore settings live takes, their flags generated from the RestoreSettings fields like restore's
LIVE_RESTORE_FLAGS = [fl for fl in RESTORE_FLAGS if fl.dest in ("stereo",)]


def add_live_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``sagasr live``."""
    parser.add_argument("--input-device", default=None, help="input device index or name (default: system default)")
    parser.add_argument("--output-device", default=None, help="output device index or name (default: system default)")
    parser.add_argument("--block-size", type=int, default=1024, help="device block size in samples (default 1024)")
    parser.add_argument("--channels", type=int, default=1, help="channels to read and play (default 1)")
    parser.add_argument("--rate", type=int, default=None, metavar="HZ",
                        help="the devices' sample rate, at least the model's (default: the model's, 44100); above it "
                             "the input is kept and only the restored change is resampled back")
    parser.add_argument("--model", default=None, help="model bundle folder/archive (default: the embedded model)")
    parser.add_argument("--provider", default="auto",
                        help="ONNX Runtime provider: auto (the default: the CPU), cpu or cuda")
    parser.add_argument("--list-devices", action="store_true", help="list audio devices and exit")
    parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds (default: Ctrl-C)")
    parser.add_argument("--headroom", type=int, default=None,
                        help="extra delay in samples for the model to keep up, at least --block-size "
                             "(default: one model window)")
    add_flags(parser, LIVE_RESTORE_FLAGS)


def run_live(args: argparse.Namespace, stream_factory: Callable[..., Any] | None = None) -> int:
    """``sagasr live``: list devices, or restore from input to output until Ctrl-C / ``--duration``."""
    if args.list_devices:
        print(import_sounddevice().query_devices())
        return 0
    if stream_factory is None:
        import_sounddevice()  # fail before loading the model
    from ..restorer import Restorer

    settings = RestoreSettings().with_(**flag_values(args, LIVE_RESTORE_FLAGS))
    restorer = Restorer.load(args.model, settings, provider=getattr(args, "provider", "auto"))
    model = restorer.model
    rate = restorer.sample_rate if getattr(args, "rate", None) is None else args.rate
    live = LiveRestorer(
        restorer.stream_at(rate, args.channels), parse_device(args.input_device), parse_device(args.output_device),
        args.block_size, args.channels, rate, stream_factory, getattr(args, "headroom", None),
    )
    with live:
        print(
            f"model {model.manifest.name!r} on {model.device}; latency {live.latency_seconds * 1000:.1f} ms "
            f"(model {live.stage.latency_samples} + headroom {live.headroom} samples + device buffers). Ctrl-C to stop.",
            file=sys.stderr,
        )
        deadline = None if args.duration is None else time.monotonic() + args.duration
        try:
            while deadline is None or time.monotonic() < deadline:
                time.sleep(0.05 if deadline is None else max(0.0, min(0.05, deadline - time.monotonic())))
                if live.error is not None:
                    raise SagasrError(f"live processing failed: {live.error}") from live.error
        except KeyboardInterrupt:
            pass
    if live.status_count:
        print(f"warning: {live.status_count} block(s) reported device over/underruns", file=sys.stderr)
    if live.underruns:
        print(f"warning: {live.underruns} sample(s) were due before the model had restored them: "
              "raise --headroom or use a faster provider", file=sys.stderr)
    return 0


def live_main(args: argparse.Namespace) -> int:
    """Alias of :func:`run_live` (the ``sagasr live`` entry point)."""
    return run_live(args)


def add_live_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``sagasr live``."""
    p = sub.add_parser("live", help="restore live audio from an input device to an output device")
    add_live_arguments(p)
    p.set_defaults(func=run_live)
