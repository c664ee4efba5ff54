"""Live audio: read an input device, restore it with a stream stage, play it on an output device.

Needs sounddevice (``pip install sounddevice``, or the checkout's ``.[live]`` extra), imported only when a stream is
opened.

The restoring is a stage on the stream protocol (:mod:`sagasr_stream.streaming`), e.g. ``Restorer.stream``;
a pedalboard-style effect (BandwidthExtension, Chain) is adapted to it by :class:`EffectStage`. The audio
callback never runs the model: it hands the input block to a worker thread (a queue of blocks) and plays the
restored stream from ONE FIFO at a fixed delay of ``latency_samples`` = the stage's latency + ``headroom``
samples (time for a window to be restored by the worker that runs ``stage.process(block)``). Output is
silence until then; a restored sample that is not ready when due is played as silence and counted in
``underruns`` (the stream stays aligned). With ``threaded=False`` the callback restores inline
(deterministic; for tests and tools).
"""
from __future__ import annotations

import math
import queue
import threading
import warnings
from typing import Any, Callable

import numpy as np

from .chunking import SampleBuffer
from .errors import ParameterError, SagasrError
from .streaming import Stream
from .validation import check_bool, check_positive_int, check_sample_rate, is_whole_number

INSTALL_HINT = "live audio needs sounddevice: pip install 'sounddevice>=0.4.6'"


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


class EffectStage:
    """A pedalboard-style effect (``process(x, sample_rate, reset=False)``, ``flush``, ``reset``,
    ``reported_latency_samples``) on the stream protocol, for (channels, n) float32 blocks at ``sample_rate``."""

    def __init__(self, effect: Any, sample_rate: int, channels: int) -> None:
        self.effect, self.sample_rate, self._channels = effect, sample_rate, channels
        self._primed = False  # the effect has been told the layout
        # the effect's latency at this rate, known before its stream starts (a BandwidthExtension reports the
        # model rate's until a block at another rate has come); asked once, here: latency_at refuses a rate the
        # effect cannot run at, and takes the effect's lock, which the audio callback must not wait for
        latency_at = getattr(effect, "latency_at", None)
        self._latency = int(latency_at(sample_rate)) if callable(latency_at) else None

    @property
    def channels(self) -> int:
        return self._channels

    @property
    def latency_samples(self) -> int:
        return self._latency if self._latency is not None else int(self.effect.reported_latency_samples)

    def process(self, planar: np.ndarray) -> np.ndarray:
        if not self._primed:
            # an empty (0, channels) buffer tells the effect the layout, so that blocks of 1 or ``channels``
            # frames ((1, 2), (2, 2)) are read as frames of ``channels`` channels, not as ambiguous or mono
            self.effect.process(np.zeros((0, self._channels), np.float32), self.sample_rate, reset=False)
            self._primed = True
        return np.asarray(self.effect.process(planar.T, self.sample_rate, reset=False), np.float32).T

    def flush(self) -> np.ndarray:
        out = np.asarray(self.effect.flush(), np.float32).T if self._primed else np.zeros((self._channels, 0), np.float32)
        self.reset()
        return out

    def reset(self) -> None:
        self.effect.reset()
        self._primed = False


def as_stage(effect: Any, sample_rate: int, channels: int) -> Stream:
    """``effect`` if it is on the stream protocol (with ``channels`` channels), else an :class:`EffectStage`."""
    if isinstance(effect, Stream):
        if effect.channels != channels:
            raise ParameterError(f"the stage has {effect.channels} channel(s); the live stream {channels}")
        return effect
    return EffectStage(effect, sample_rate, channels)


class LiveRestorer:
    """Full-duplex device stream through ``effect``: a stage on the stream protocol (e.g.
    ``Restorer.stream(channels)``) or a pedalboard-style effect (a BandwidthExtension or Chain at ``sample_rate``).

    ``headroom``: extra delay in samples granted to the worker thread (default: one model window, counted at the
    devices' rate, enough for a model that restores faster than real time, and at least one block); in threaded
    mode it must be at least one block, since the block just received cannot have been restored yet (less is a
    :class:`ParameterError`).
    ``stream_factory(**kwargs)`` makes the duplex stream (default ``sounddevice.Stream``); tests inject a fake.
    Blocks are (block_size, channels) float32. :meth:`start` begins a new stream: the stage is reset and
    ``error`` and the counters (``underruns``, ``status_count``, ``blocks``) start again from none.
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
        headroom: int | None = None,
        threaded: bool = True,
    ) -> None:
        block_size = check_positive_int(block_size, "block_size")
        channels = check_positive_int(channels, "channels")
        sample_rate = check_sample_rate(sample_rate)
        threaded = check_bool(threaded, "threaded")
        if headroom is None:
            # a restore stage: its window at its own rate (a 48 kHz stage counts it at 48 kHz), or its plan's
            window = getattr(effect, "window_samples", None) or getattr(getattr(effect, "plan", None), "window", None)
            model = getattr(effect, "model", None)
            if not window and model is not None:  # an effect: the model's window, counted at the devices' rate
                window = math.ceil(model.manifest.window_samples * sample_rate / model.manifest.sample_rate)
            headroom = window or 0
            headroom = max(headroom, block_size) if threaded else headroom
        if not is_whole_number(headroom) or headroom < 0:
            raise ParameterError(f"headroom must be a whole number of samples >= 0, got {headroom!r}")
        if threaded and headroom < block_size:
            raise ParameterError(f"headroom must be at least one block ({block_size} samples) with threaded=True: "
                                 f"the block just received cannot have been restored yet; got {headroom}")
        self.effect = effect
        self.stage = as_stage(effect, sample_rate, channels)
        stage_rate = getattr(self.stage, "sample_rate", None)
        if stage_rate is not None and stage_rate != sample_rate:  # it would take the devices' blocks for its rate's
            raise ParameterError(f"the stage runs at {stage_rate} Hz, the devices at {sample_rate} Hz: make it for "
                                 f"their rate (Restorer.stream_at({sample_rate}, channels))")
        self.input_device, self.output_device = input_device, output_device
        self.block_size, self.channels, self.sample_rate = block_size, channels, sample_rate
        self.headroom, self.threaded = int(headroom), threaded
        self._factory = stream_factory
        self._stream: Any = None
        self.status_count = 0  # callbacks that reported a device over/underrun
        self.underruns = 0  # samples that were due before the worker had restored them
        self.blocks = 0
        self.error: BaseException | None = None
        self._lock = threading.Lock()
        self._reset_state()

    def _reset_state(self) -> None:
        self._inbox: queue.Queue[np.ndarray | None] = queue.Queue()
        self._restored = SampleBuffer(self.channels)  # the one FIFO: absolute index = input sample index
        self._restored_lock = threading.Lock()
        self._played = 0
        self._worker: threading.Thread | None = None

    @property
    def model_latency_samples(self) -> int:
        """Deprecated: ``stage.latency_samples`` (the one latency name of the stream protocol)."""
        warnings.warn("LiveRestorer.model_latency_samples is deprecated; use live.stage.latency_samples",
                      DeprecationWarning, stacklevel=2)
        return int(self.stage.latency_samples)

    @property
    def latency_samples(self) -> int:
        """Fixed delay from input to output in samples (the stage's ``latency_samples`` + ``headroom``), device
        buffers not counted."""
        return int(self.stage.latency_samples) + self.headroom

    @property
    def latency_seconds(self) -> float:
        """Total latency plus the devices' reported input and output latency (once the stream is open)."""
        device = 0.0
        if self._stream is not None:
            latency = getattr(self._stream, "latency", 0.0)
            device = float(sum(latency)) if isinstance(latency, (tuple, list)) else float(latency or 0.0)
        return self.latency_samples / self.sample_rate + device

    def _restore(self, block: np.ndarray) -> None:
        out = self.stage.process(np.ascontiguousarray(block.T))
        with self._restored_lock:
            self._restored.append(out)

    def _work(self) -> None:
        while (block := self._inbox.get()) is not None:
            try:
                if self.error is None:  # after an error the blocks are dropped (still marked done: wait_idle)
                    self._restore(block)
            except BaseException as exc:  # reported by run_live; the stream plays silence from here on
                self.error = exc
            finally:
                self._inbox.task_done()
        self._inbox.task_done()

    def wait_idle(self) -> None:
        """Block until the worker has restored every queued block (tests, tools)."""
        self._inbox.join()

    def callback(self, indata: np.ndarray, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        """sounddevice callback: queue ``indata``; fill ``outdata`` with the restored samples now due."""
        if status:
            self.status_count += 1
        block = np.array(indata, dtype=np.float32)
        if self.threaded:
            self._inbox.put(block)
        else:
            try:
                self._restore(block)
            except BaseException as exc:  # never raise inside the audio thread: record it and play silence
                self.error = exc
        start = self._played - self.latency_samples
        with self._restored_lock:
            ready_end = self._restored.end
            due = self._restored.read(start, start + frames)
            self._restored.discard(max(0, start + frames - self._restored.offset))
        if self.error is None:  # due samples (index >= 0) beyond what the worker has restored
            self.underruns += max(0, start + frames - max(start, 0, ready_end))
        outdata[:] = due.T
        self._played += frames
        self.blocks += 1

    def start(self) -> None:
        """Open and start the duplex stream (and the worker thread)."""
        with self._lock:
            if self._stream is not None:
                return
            factory = self._factory or import_sounddevice().Stream
            self.stage.reset()
            self._reset_state()
            self.error = None  # a new stream: an earlier one's error would drop every block of this one
            self.status_count = self.underruns = self.blocks = 0
            if self.threaded:
                self._worker = threading.Thread(target=self._work, name="sagasr-live", daemon=True)
                self._worker.start()
            self._stream = factory(
                samplerate=self.sample_rate, blocksize=self.block_size, device=(self.input_device, self.output_device),
                channels=self.channels, dtype="float32", callback=self.callback,
            )
            self._stream.start()

    def stop(self) -> None:
        """Stop and close the stream, end the worker, then reset the stage (its tail is dropped)."""
        with self._lock:
            if self._stream is None:
                return
            self._stream.stop()
            self._stream.close()
            self._stream = None
            if self._worker is not None:
                self._inbox.put(None)
                self._worker.join()
                self._worker = None
            self.stage.reset()

    def __enter__(self) -> "LiveRestorer":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def parse_device(value: str | None) -> int | str | None:
    return int(value) if value is not None and value.lstrip("-").isdigit() else value
