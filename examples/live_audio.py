"""Restore live audio: input device -> bandwidth extension -> output device (needs sounddevice).

    pip install '.[live]'   (in the checkout; or: pip install sounddevice)
    python examples/live_audio.py --list-devices
    python examples/live_audio.py [--input-device N] [--output-device M] [--block-size 1024] [--model BUNDLE] [--duration 10]

The same as the ``sagasr live`` command. Output runs the model's latency (one window) plus ``--headroom``
(default: one more window, the time the model gets to restore it) behind the input.
"""
from __future__ import annotations

import argparse
import sys
import time

from example_utils import load_model
from sagasr_stream.effect import BandwidthExtension
from sagasr_stream.errors import SagasrError
from sagasr_stream.live import LiveRestorer, import_sounddevice, parse_device
from sagasr_stream.cli.fields import flag_values
from sagasr_stream.cli.live import LIVE_RESTORE_FLAGS, add_live_arguments
from sagasr_stream.settings import RestoreSettings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_live_arguments(parser)
    args = parser.parse_args()
    try:  # as `sagasr live`: a bad option or a missing package is one line and exit 2, not a traceback
        return run(args)
    except SagasrError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def run(args: argparse.Namespace) -> int:
    """List the devices, or restore from input to output until --duration, Ctrl-C or an error; the exit status."""
    sd = import_sounddevice()
    if args.list_devices:
        print(sd.query_devices())
        return 0
    model = load_model(args.model, args.provider)
    settings = RestoreSettings().with_(**flag_values(args, LIVE_RESTORE_FLAGS))  # --stereo
    rate = args.rate or model.manifest.sample_rate  # --rate: the devices' rate, the model's or above
    live = LiveRestorer(
        BandwidthExtension(model, settings), parse_device(args.input_device), parse_device(args.output_device),
        args.block_size, args.channels, rate, headroom=args.headroom,
    )
    with live:
        print(f"running on {model.device}; latency {live.latency_seconds * 1000:.0f} ms (model "
              f"{live.stage.latency_samples} + headroom {live.headroom} samples + device buffers). Ctrl-C to stop.")
        deadline = None if args.duration is None else time.monotonic() + args.duration
        try:  # the audio runs in sounddevice's thread; stop at the deadline, on Ctrl-C or on an error
            while (deadline is None or time.monotonic() < deadline) and live.error is None:
                time.sleep(0.05)
        except KeyboardInterrupt:
            pass
    print(f"{live.blocks} blocks, {live.status_count} with device over/underruns, "
          f"{live.underruns} samples late from the model, error: {live.error}")
    return 0 if live.error is None else 1


if __name__ == "__main__":
    sys.exit(main())
