"""Live audio without a sound card: a fake duplex stream drives LiveRestorer's callback."""
import argparse
import sys

import numpy as np
import pytest

from sagasr_stream import restore
from sagasr_stream.effect import BandwidthExtension
from sagasr_stream.errors import SagasrError
from sagasr_stream.live import LiveRestorer, add_live_arguments, import_sounddevice, run_live
from tests.conftest import band_limited_noise


class FakeStream:
    """Stands in for sounddevice.Stream: records its arguments; ``run`` plays blocks through the callback."""

    instances: list["FakeStream"] = []

    def __init__(self, **kwargs):
        self.kwargs = kwargs
        self.latency = (0.005, 0.010)
        self.started = self.closed = False
        FakeStream.instances.append(self)

    def start(self):
        self.started = True

    def stop(self):
        self.started = False

    def close(self):
        self.closed = True

    def run(self, signal: np.ndarray) -> np.ndarray:
        """signal: (frames, channels); returns what the callback wrote, block after block."""
        block, out = self.kwargs["blocksize"], []
        for i in range(0, len(signal), block):
            indata = signal[i : i + block]
            outdata = np.full_like(indata, np.nan)
            self.kwargs["callback"](indata, outdata, len(indata), None, None)
            out.append(outdata)
        return np.concatenate(out)


def test_callback_plays_restored_audio_exactly_latency_late(tiny_model):
    x = band_limited_noise(30000, channels=2, seed=11).T.copy()  # (frames, channels) as sounddevice gives
    fx = BandwidthExtension(tiny_model)
    live = LiveRestorer(fx, 1, 2, block_size=512, channels=2, stream_factory=FakeStream)
    with live:
        stream = FakeStream.instances[-1]
        assert stream.started and stream.kwargs["device"] == (1, 2) and stream.kwargs["samplerate"] == 44100
        played = stream.run(x)
    assert stream.closed and live.error is None and live.blocks == len(range(0, 30000, 512))
    latency = fx.reported_latency_samples
    assert np.all(played[:latency] == 0)  # silence until output is due
    expected = restore(x, 44100, tiny_model)  # offline, (frames, channels)
    np.testing.assert_allclose(played[latency:], expected[: len(x) - latency], atol=1e-5)
    assert live.latency_seconds == pytest.approx(latency / 44100)  # closed: model only
    live.start()
    assert live.latency_seconds == pytest.approx(latency / 44100 + 0.015)  # + device buffers
    live.stop()


def test_callback_errors_are_recorded_not_raised(tiny_model):
    live = LiveRestorer(BandwidthExtension(tiny_model), block_size=256, channels=2, stream_factory=FakeStream)
    live.start()
    out = np.ones((256, 2), np.float32)
    live.callback(np.full((256, 2), np.nan, np.float32), out, 256, None, None)
    live.stop()
    assert isinstance(live.error, ValueError) and np.all(out == 0)


def parse(argv):
    parser = argparse.ArgumentParser()
    add_live_arguments(parser)
    return parser.parse_args(argv)


def test_run_live_with_a_fake_stream(tiny_bundle, capsys):
    args = parse(["--model", str(tiny_bundle), "--duration", "0.05", "--input-device", "3", "--block-size", "256"])
    assert run_live(args, stream_factory=FakeStream) == 0
    stream = FakeStream.instances[-1]
    assert stream.kwargs["device"] == (3, None) and stream.kwargs["blocksize"] == 256 and stream.closed
    assert "latency" in capsys.readouterr().err


def test_missing_sounddevice_gives_the_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # makes `import sounddevice` fail
    with pytest.raises(SagasrError, match=r"pip install 'sagasr-stream\[live\]'"):
        import_sounddevice()
    with pytest.raises(SagasrError, match="sagasr-stream"):
        run_live(parse(["--list-devices"]))


def test_missing_portaudio_is_explained(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "sounddevice":
            raise OSError("PortAudio library not found")  # what sounddevice raises without libportaudio
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(SagasrError, match="PortAudio"):
        import_sounddevice()
