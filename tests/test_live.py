"""Live audio without a sound card: a fake duplex stream drives LiveRestorer's callback."""
import argparse
import sys

import numpy as np
import pytest

from sagasr_stream import restore
from sagasr_stream.effect import BandwidthExtension
from sagasr_stream.errors import SagasrError
from sagasr_stream.live import LiveRestorer, import_sounddevice
from sagasr_stream.cli.live import add_live_arguments, run_live
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

    def run(self, signal: np.ndarray, between=None) -> np.ndarray:
        """signal: (frames, channels); returns what the callback wrote, block after block.

        ``between()`` runs after each block: the time a real device leaves between callbacks."""
        block, out = self.kwargs["blocksize"], []
        for i in range(0, len(signal), block):
            indata = signal[i : i + block]
            outdata = np.full_like(indata, np.nan)
            self.kwargs["callback"](indata, outdata, len(indata), None, None)
            out.append(outdata)
            if between:
                between()
        return np.concatenate(out)


def test_callback_plays_restored_audio_exactly_latency_late(tiny_model):
    x = band_limited_noise(40000, channels=2, seed=11).T.copy()  # (frames, channels) as sounddevice gives
    fx = BandwidthExtension(tiny_model)
    live = LiveRestorer(fx, 1, 2, block_size=512, channels=2, stream_factory=FakeStream)
    assert live.headroom == tiny_model.manifest.window_samples  # default: one window of compute time
    with live:
        stream = FakeStream.instances[-1]
        assert stream.kwargs["device"] == (1, 2) and stream.kwargs["samplerate"] == 44100
        played = stream.run(x, between=live.wait_idle)  # the worker keeps up
    assert stream.closed and live.error is None and live.underruns == 0 and live.blocks == len(range(0, 40000, 512))
    latency = live.latency_samples
    assert latency == fx.reported_latency_samples + live.headroom
    assert np.all(played[:latency] == 0)  # silence until output is due
    expected = restore(x, 44100, tiny_model)  # offline, (frames, channels)
    np.testing.assert_allclose(played[latency:], expected[: len(x) - latency], atol=1e-5)
    assert live.latency_seconds == pytest.approx(latency / 44100)  # closed: no device buffers
    live.start()
    assert live.latency_seconds == pytest.approx(latency / 44100 + 0.015)  # + device buffers
    live.stop()


def test_inline_mode_without_headroom_is_the_effect_latency(tiny_model):
    x = band_limited_noise(30000, seed=12)[:, None]  # (frames, 1)
    live = LiveRestorer(BandwidthExtension(tiny_model), block_size=300, stream_factory=FakeStream, headroom=0, threaded=False)
    with live:
        played = FakeStream.instances[-1].run(x)
    latency = live.latency_samples
    assert latency == tiny_model.manifest.window_samples - 1 and live.underruns == 0 and live.error is None
    assert played.shape == x.shape
    np.testing.assert_allclose(played[latency:, 0], restore(x[:, 0], 44100, tiny_model)[: len(x) - latency], atol=1e-5)


def test_a_restore_stage_plays_through_the_same_path_bit_for_bit(tiny_model):
    """Live audio on the stream protocol: a Restorer's stage directly, with the effect's output exactly."""
    from sagasr_stream import Restorer

    x = band_limited_noise(20000, channels=2, seed=15).T.copy()  # (frames, 2)
    runs = {}
    for name, effect in (("stage", Restorer(tiny_model).stream(2)), ("effect", BandwidthExtension(tiny_model))):
        live = LiveRestorer(effect, block_size=256, channels=2, stream_factory=FakeStream, headroom=0, threaded=False)
        assert live.latency_samples == tiny_model.manifest.window_samples - 1
        with live:
            runs[name] = FakeStream.instances[-1].run(x)
    assert np.array_equal(runs["stage"], runs["effect"]) and runs["stage"][8191:].any()
    with pytest.raises(ValueError, match="channel"):
        LiveRestorer(Restorer(tiny_model).stream(1), channels=2, stream_factory=FakeStream)


@pytest.mark.parametrize("block_size", [1, 2])
def test_blocks_of_one_or_channels_frames_are_read_as_frames(tiny_model, block_size):
    """(1, 2) and (2, 2) blocks of a stereo stream: the layout is given to the effect before the first one."""
    x = band_limited_noise(9000, channels=2, seed=14).T.copy()  # (frames, 2)
    live = LiveRestorer(BandwidthExtension(tiny_model), block_size=block_size, channels=2, stream_factory=FakeStream,
                        headroom=0, threaded=False)
    with live:
        played = FakeStream.instances[-1].run(x)
    latency = live.latency_samples
    assert live.error is None and played.shape == x.shape
    np.testing.assert_allclose(played[latency:], restore(x, 44100, tiny_model)[: len(x) - latency], atol=1e-5)


class StallingEffect:
    """Wraps an effect; while ``running`` is clear, the model stalls (a slow machine, a busy GPU)."""

    def __init__(self, effect):
        import threading

        self.effect = effect
        self.running = threading.Event()
        self.running.set()
        self.reported_latency_samples = effect.reported_latency_samples

    def process(self, *args, **kwargs):
        self.running.wait()
        return self.effect.process(*args, **kwargs)

    def reset(self):
        self.effect.reset()


def test_a_stalled_model_causes_counted_underruns_but_stays_aligned(tiny_model):
    x = band_limited_noise(20000, seed=13)[:, None]  # (frames, 1): 79 blocks of 256
    fx = StallingEffect(BandwidthExtension(tiny_model))
    live = LiveRestorer(fx, block_size=256, stream_factory=FakeStream, headroom=256)  # one block of slack
    blocks = iter(range(1000))

    def between():  # the model stalls during blocks 50..64, then catches up
        i = next(blocks)
        if i == 50:
            fx.running.clear()
        if i == 64:
            fx.running.set()
        if fx.running.is_set():
            live.wait_idle()

    with live:
        played = FakeStream.instances[-1].run(x, between)
    assert live.error is None
    assert 14 * 256 <= live.underruns <= 16 * 256  # the stalled blocks' output came too late ...
    latency = live.latency_samples
    got, expected = played[latency:, 0], restore(x[:, 0], 44100, tiny_model)[: len(x) - latency]
    ready = got != 0
    assert len(got) - ready.sum() == live.underruns  # ... and was skipped, not shifted:
    np.testing.assert_allclose(got[ready], expected[ready], atol=1e-5)


def test_callback_errors_are_recorded_not_raised(tiny_model):
    live = LiveRestorer(BandwidthExtension(tiny_model), block_size=256, channels=2, stream_factory=FakeStream)
    live.start()
    out = np.ones((256, 2), np.float32)
    live.callback(np.full((256, 2), np.nan, np.float32), out, 256, None, None)
    live.wait_idle()
    live.callback(np.zeros((256, 2), np.float32), out, 256, None, None)
    live.stop()
    assert isinstance(live.error, ValueError) and np.all(out == 0)


class FailingOnce:
    """A restore stage whose first ``process`` call raises (a model error mid-stream)."""

    def __init__(self, stage):
        self.stage, self.fail = stage, True
        self.channels = stage.channels

    @property
    def latency_samples(self):
        return self.stage.latency_samples

    def process(self, planar):
        if self.fail:
            self.fail = False
            raise RuntimeError("model failed")
        return self.stage.process(planar)

    def flush(self):
        return self.stage.flush()

    def reset(self):
        self.stage.reset()


def test_after_an_error_wait_idle_returns_and_a_restart_restores_again(tiny_model):
    """The worker drops the blocks that follow an error but marks them done (wait_idle used to hang for ever);
    start() begins a new stream without the old error (which used to drop every block: silence)."""
    import threading

    from sagasr_stream import Restorer

    x = band_limited_noise(20000, seed=16)[:, None]
    live = LiveRestorer(FailingOnce(Restorer(tiny_model).stream(1)), block_size=512, stream_factory=FakeStream,
                        headroom=512)
    with live:
        done = threading.Event()
        threading.Thread(target=lambda: (FakeStream.instances[-1].run(x[:4096], between=live.wait_idle), done.set()),
                         daemon=True).start()
        assert done.wait(60), "wait_idle hung after an error"
    assert isinstance(live.error, RuntimeError) and live.blocks == 8
    with live:
        played = FakeStream.instances[-1].run(x, between=live.wait_idle)
    assert live.error is None and live.underruns == 0 and live.blocks == len(range(0, len(x), 512))
    latency = live.latency_samples
    np.testing.assert_allclose(played[latency:, 0], restore(x[:, 0], 44100, tiny_model)[: len(x) - latency], atol=1e-5)


def test_threaded_headroom_is_at_least_one_block(tiny_model):
    """Less headroom than a block made every block late (counted underruns, silence): refused, and the default is
    at least a block also for a stage without a window."""
    from sagasr_stream import ResampleStage, Restorer
    from sagasr_stream.errors import ParameterError

    with pytest.raises(ParameterError, match="at least one block"):
        LiveRestorer(Restorer(tiny_model).stream(1), block_size=512, stream_factory=FakeStream, headroom=100)
    assert LiveRestorer(Restorer(tiny_model).stream(1), block_size=512, stream_factory=FakeStream, headroom=100,
                        threaded=False).headroom == 100  # inline: the block is restored before it is played
    assert LiveRestorer(ResampleStage(44100, 44100, 1), block_size=512, stream_factory=FakeStream).headroom == 512


def test_an_effect_at_48_khz_reports_its_48_khz_latency_before_the_stream_starts(tiny_model):
    """LiveRestorer.latency_samples is what the callback delays by: the effect's latency at the device's rate from
    the start (it used to read the model rate's until the worker had restored a block, then jump)."""
    x = band_limited_noise(20000, channels=2, seed=17).T.copy()
    fx = BandwidthExtension(tiny_model)
    live = LiveRestorer(fx, block_size=480, channels=2, sample_rate=48000, stream_factory=FakeStream)
    before = live.latency_samples
    assert before == fx.latency_at(48000) + live.headroom
    with live:
        played = FakeStream.instances[-1].run(x, between=live.wait_idle)
        assert live.latency_samples == before == fx.reported_latency_samples + live.headroom
    assert live.error is None and live.underruns == 0
    np.testing.assert_allclose(played[before:], restore(x, 48000, tiny_model)[: len(x) - before], atol=1e-5)
    with pytest.raises(SagasrError, match="44100 Hz, or above; got 22050 Hz"):  # before the stream, not in its callback
        LiveRestorer(BandwidthExtension(tiny_model), sample_rate=22050, stream_factory=FakeStream)
    import threading

    with live, fx._lock:  # the worker busy in the effect: the audio callback must not wait for it
        called = threading.Thread(target=live.callback, args=(x[:480], np.zeros((480, 2), np.float32), 480, None, None))
        called.start()
        called.join(10)
        assert not called.is_alive()


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
    with pytest.raises(SagasrError, match=r"pip install 'sounddevice>=0.4.6'"):
        import_sounddevice()
    with pytest.raises(SagasrError, match="pip install .sounddevice"):
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


def test_one_latency_name_on_the_live_path(tiny_model) -> None:
    live = LiveRestorer(BandwidthExtension(tiny_model), block_size=256, stream_factory=FakeStream, headroom=256)
    assert live.latency_samples == live.stage.latency_samples + 256
    with pytest.warns(DeprecationWarning, match="stage.latency_samples"):
        assert live.model_latency_samples == live.stage.latency_samples


def test_run_live_takes_the_stereo_mode(tiny_bundle, monkeypatch, capsys):
    import sagasr_stream.cli.live as live_cli
    from sagasr_stream.streaming import run_whole

    stages = []

    class Recording(live_cli.LiveRestorer):
        def __init__(self, stage, *args, **kwargs):
            stages.append(stage)
            super().__init__(stage, *args, **kwargs)

    monkeypatch.setattr(live_cli, "LiveRestorer", Recording)
    args = parse(["--model", str(tiny_bundle), "--duration", "0.05", "--channels", "2", "--stereo", "mono"])
    assert run_live(args, stream_factory=FakeStream) == 0
    x = band_limited_noise(12000, channels=2, seed=3)  # two different channels
    stages[-1].reset()
    out = run_whole(stages[-1], x)
    assert not np.array_equal(x[0], x[1]) and out[0].any()
    np.testing.assert_array_equal(out[0], out[1])  # mono: the downmix restored once, in every channel
    assert parse([]).stereo is None  # the settings' default (linked)
    with pytest.raises(SystemExit):
        parse(["--stereo", "wide"])
    assert "linked" in capsys.readouterr().err  # the choices come from the field


def test_a_48_khz_device_plays_the_restoration_at_48_khz_with_the_input_kept(tiny_bundle, tiny_model, monkeypatch):
    """``--rate 48000``: the devices open at 48 kHz, the stage restores at 44.1 kHz and answers at 48 kHz as the
    offline restoration of a 48 kHz signal does (the input kept, the change resampled back)."""
    import sagasr_stream.cli.live as live_cli
    from sagasr_stream.source_rate import SourceRateRestore

    made = []

    class Recording(live_cli.LiveRestorer):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(live_cli, "LiveRestorer", Recording)
    args = parse(["--model", str(tiny_bundle), "--duration", "0.05", "--channels", "2", "--rate", "48000",
                  "--block-size", "480"])
    assert run_live(args, stream_factory=FakeStream) == 0
    live = made[-1]
    assert FakeStream.instances[-1].kwargs["samplerate"] == 48000 and isinstance(live.stage, SourceRateRestore)
    assert live.headroom == -(-tiny_model.manifest.window_samples * 48000 // 44100)  # one window, at 48 kHz
    rng = np.random.default_rng(4)
    x = np.stack([np.convolve(rng.standard_normal(48000), np.hanning(15), "same") for _ in range(2)], 1)  # dark
    x = (0.05 * x).astype(np.float32)
    with live:
        played = FakeStream.instances[-1].run(x, between=live.wait_idle)
    latency = live.latency_samples
    assert live.error is None and live.underruns == 0 and np.all(played[:latency] == 0)
    expected = restore(x, 48000, tiny_model)
    np.testing.assert_allclose(played[latency:], expected[: len(x) - latency], atol=1e-5)
    with pytest.raises(SagasrError, match="44100 Hz or above"):
        run_live(parse(["--model", str(tiny_bundle), "--duration", "0.05", "--rate", "22050"]), stream_factory=FakeStream)


@pytest.mark.parametrize("kwargs, match", [
    ({"block_size": None}, "block_size"), ({"block_size": 512.0}, "block_size"), ({"channels": 1.5}, "channels"),
    ({"headroom": 8192.5}, "headroom"), ({"sample_rate": "44100"}, "sample_rate"), ({"threaded": None}, "threaded"),
])
def test_bad_arguments_are_named(tiny_model, kwargs, match):
    """A float block size or channel count went to the device stream, None died in a comparison: named now."""
    with pytest.raises(SagasrError, match=match):
        LiveRestorer(BandwidthExtension(tiny_model), stream_factory=FakeStream, **kwargs)


def test_a_stage_made_for_another_rate_is_refused(tiny_model):
    """A 44.1 kHz restore stage on 48 kHz devices took their blocks for 44.1 kHz ones (band edges, the restored
    band and the window all wrong, silently): refused, naming the stage that fits."""
    from sagasr_stream import Restorer
    from sagasr_stream.errors import ParameterError

    restorer = Restorer(tiny_model)
    with pytest.raises(ParameterError, match=r"44100 Hz, the devices at 48000 Hz.*stream_at\(48000"):
        LiveRestorer(restorer.stream(1), sample_rate=48000, stream_factory=FakeStream)
    with pytest.raises(ParameterError, match="96000 Hz, the devices at 48000 Hz"):
        LiveRestorer(restorer.stream_at(96000, 1), sample_rate=48000, stream_factory=FakeStream)
    assert LiveRestorer(restorer.stream_at(48000, 1), sample_rate=48000, stream_factory=FakeStream).stage.sample_rate == 48000


def test_an_effect_at_48_khz_gets_one_window_of_headroom_at_48_khz(tiny_model):
    """The default headroom is one model window of compute time: `sagasr live --rate 48000` (a restore stage)
    counts it at 48 kHz, but an effect (the live example) got the 44.1 kHz count, 8 % less time."""
    from sagasr_stream.restorer import Restorer

    window_48k = Restorer(tiny_model).stream_at(48000, 1).window_samples
    assert window_48k > tiny_model.manifest.window_samples
    live = LiveRestorer(BandwidthExtension(tiny_model), block_size=512, sample_rate=48000, stream_factory=FakeStream)
    assert live.headroom == window_48k
    live = LiveRestorer(BandwidthExtension(tiny_model), block_size=512, stream_factory=FakeStream)
    assert live.headroom == tiny_model.manifest.window_samples  # at the model's rate as before
