"""Live audio: read an input device, restore it with a streaming effect, play it on an output device.

Needs sounddevice (``pip install 'sagasr-stream[live]'``), imported only when a stream is opened. The audio
callback runs ``effect.process(block, 44100, reset=False)`` and right-aligns the result in the output
block, so the output starts with silence and then runs exactly ``effect.reported_latency_samples`` behind
the input (plus the devices' own buffers). A callback that restores a whole window takes as long as one
window restore: use a model that restores faster than real time, or a larger ``--block-size``.
"""
from __future__ import annotations

import argparse
import sys
import threading
import time
from typing import Any, Callable

import numpy as np

from .errors import SagasrError

INSTALL_HINT = "live audio needs sounddevice: pip install 'sagasr-stream[live]'"


def import_sounddevice() -> Any:
    """The sounddevice module, or a SagasrError saying how to install it."""
    try:
        import sounddevice
    except ImportError as exc:
        raise SagasrError(f"{INSTALL_HINT} ({exc})") from exc
    except OSError as exc:  # the module is there but its PortAudio library is not
        raise SagasrError(
            f"sounddevice cannot load PortAudio ({exc}): install the PortAudio library (e.g. apt install libportaudio2)"
        ) from exc
    return sounddevice


class LiveRestorer:
    """Full-duplex device stream through ``effect`` (a BandwidthExtension or Chain at ``sample_rate``).

    ``stream_factory(**kwargs)`` makes the duplex stream (default ``sounddevice.Stream``); tests inject a
    fake. Blocks are (block_size, channels) float32, as sounddevice gives them.
    """

    def __init__(
        self,
        effect: Any,
        input_device: int | str | None = None,
        output_device: int | str | None = None,
        block_size: int = 1024,
        channels: int = 1,
        sample_rate: int = 44100,
        stream_factory: Callable[..., Any] | None = None,
    ) -> None:
        if block_size < 1 or channels < 1:
            raise ValueError(f"block_size and channels must be positive, got {block_size}, {channels}")
        self.effect = effect
        self.input_device, self.output_device = input_device, output_device
        self.block_size, self.channels, self.sample_rate = block_size, channels, sample_rate
        self._factory = stream_factory
        self._stream: Any = None
        self.status_count = 0  # callbacks that reported an over/underrun
        self.blocks = 0
        self.error: BaseException | None = None
        self._lock = threading.Lock()

    @property
    def model_latency_samples(self) -> int:
        return int(self.effect.reported_latency_samples)

    @property
    def latency_seconds(self) -> float:
        """Model latency plus the devices' reported input and output latency (once the stream is open)."""
        device = 0.0
        if self._stream is not None:
            latency = getattr(self._stream, "latency", 0.0)
            device = float(sum(latency)) if isinstance(latency, (tuple, list)) else float(latency or 0.0)
        return self.model_latency_samples / self.sample_rate + device

    def callback(self, indata: np.ndarray, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        """sounddevice callback: restore ``indata`` and write what is due, right-aligned, into ``outdata``."""
        if status:
            self.status_count += 1
        try:
            out = self.effect.process(np.array(indata, dtype=np.float32), self.sample_rate, reset=False)
        except BaseException as exc:  # never raise inside the audio thread: record it and play silence
            self.error = exc
            outdata.fill(0)
            return
        n = out.shape[0]
        outdata[: frames - n] = 0
        outdata[frames - n :] = out
        self.blocks += 1

    def start(self) -> None:
        """Open and start the duplex stream."""
        with self._lock:
            if self._stream is not None:
                return
            factory = self._factory or import_sounddevice().Stream
            self.effect.reset()
            self._stream = factory(
                samplerate=self.sample_rate, blocksize=self.block_size, device=(self.input_device, self.output_device),
                channels=self.channels, dtype="float32", callback=self.callback,
            )
            self._stream.start()

    def stop(self) -> None:
        """Stop and close the stream, then reset the effect (its tail is dropped)."""
        with self._lock:
            if self._stream is None:
                return
            self._stream.stop()
            self._stream.close()
            self._stream = None
            self.effect.reset()

    def __enter__(self) -> "LiveRestorer":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def add_live_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``sagasr live``."""
    parser.add_argument("--input-device", default=None, help="input device index or name (default: system default)")
    parser.add_argument("--output-device", default=None, help="output device index or name (default: system default)")
    parser.add_argument("--block-size", type=int, default=1024, help="device block size in samples (default 1024)")
    parser.add_argument("--channels", type=int, default=1, help="channels to read and play (default 1)")
    parser.add_argument("--model", default=None, help="model bundle folder/archive (default: the embedded model)")
    parser.add_argument("--provider", default="auto", help="ONNX Runtime provider: auto, cpu or cuda")
    parser.add_argument("--list-devices", action="store_true", help="list audio devices and exit")
    parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds (default: Ctrl-C)")


def parse_device(value: str | None) -> int | str | None:
    return int(value) if value is not None and value.lstrip("-").isdigit() else value


def run_live(args: argparse.Namespace, stream_factory: Callable[..., Any] | None = None) -> int:
    """``sagasr live``: list devices, or restore from input to output until Ctrl-C / ``--duration``."""
    if args.list_devices:
        print(import_sounddevice().query_devices())
        return 0
    if stream_factory is None:
        import_sounddevice()  # fail before loading the model
    from .effect import BandwidthExtension
    from .model import SagaSRModel

    model = SagaSRModel.load(args.model, provider=getattr(args, "provider", "auto"))
    effect = BandwidthExtension(model)
    live = LiveRestorer(
        effect, parse_device(args.input_device), parse_device(args.output_device), args.block_size, args.channels,
        model.manifest.sample_rate, stream_factory,
    )
    with live:
        print(
            f"model {model.manifest.name!r} on {model.device}; latency {live.latency_seconds * 1000:.1f} ms "
            f"(model {live.model_latency_samples} samples = {live.model_latency_samples / live.sample_rate * 1000:.1f} ms"
            " + device buffers). Ctrl-C to stop.",
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
        print(f"warning: {live.status_count} block(s) reported over/underruns", file=sys.stderr)
    return 0


def live_main(args: argparse.Namespace) -> int:
    """Alias of :func:`run_live` (the ``sagasr live`` entry point)."""
    return run_live(args)
