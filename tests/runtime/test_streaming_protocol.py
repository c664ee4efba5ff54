"""The stream protocol, stage by stage: block-size invariance, the exact latency gate, flush completing the
length, reset equal to a fresh object; the Restorer that makes the restore stages."""
import numpy as np
import pytest

from sagasr_stream import (
    BandwidthExtension, ResampleStage, RestoreSettings, Restorer, Series, SettingsError, Stream, restore,
)
from sagasr_stream.errors import AudioInputError, ParameterError, ParameterTypeError
from sagasr_stream.live import EffectStage
from sagasr_stream.streaming import exact_length, run_whole
from tests.conftest import band_limited_noise

SETTINGS = RestoreSettings(overlap=2048)
N = 12000


def restore_stage(model, channels=1, windows_per_call=1):
    return Restorer(model, SETTINGS).stream(channels, windows_per_call)


def resample_stage(channels=1, source=16000, target=44100, length=None):
    return ResampleStage(source, target, channels, length)


def upsampler(model, channels=1):
    restorer = Restorer(model, SETTINGS)
    return Series([ResampleStage(16000, 44100, channels), restorer.stream(channels, 1, band_limit_hz=8000.0)])


def effect_stage(model, channels=1):
    return EffectStage(BandwidthExtension(model, SETTINGS), 44100, channels)


# (name, factory(model, channels) -> stage, output samples per input sample)
STAGES = [
    ("restore", lambda m, c: restore_stage(m, c), 1.0),
    ("restore, 2 windows per call", lambda m, c: restore_stage(m, c, 2), 1.0),
    ("resample 16k -> 44.1k", lambda m, c: resample_stage(c), 44100 / 16000),
    ("resample 48k -> 44.1k", lambda m, c: resample_stage(c, 48000, 44100), 44100 / 48000),
    ("resample 44.1k -> 44.1k", lambda m, c: resample_stage(c, 44100, 44100), 1.0),
    ("series resample -> restore", upsampler, 44100 / 16000),
    ("pedalboard effect adapted", effect_stage, 1.0),
]
IDS = [name for name, _, _ in STAGES]


def feed(stage, x, sizes, ratio):
    """Run ``x`` through ``stage`` in blocks of ``sizes``, checking the latency gate after every block."""
    pieces, pos = [], 0
    total_out = 0
    for n in sizes:
        if pos >= x.shape[1]:
            break
        out = stage.process(x[:, pos : pos + n])
        pos = min(pos + n, x.shape[1])
        assert out.dtype == np.float32 and out.shape[0] == stage.channels
        total_out += out.shape[1]
        assert total_out == max(0, round(pos * ratio) - stage.latency_samples), (pos, total_out)
        pieces.append(out)
    pieces.append(stage.flush())
    return np.concatenate(pieces, axis=1)


@pytest.fixture(scope="module")
def signal():
    return band_limited_noise(N, cutoff_hz=3000.0, seed=21, channels=2)


@pytest.mark.parametrize("name,make,ratio", STAGES, ids=IDS)
def test_every_stage_is_on_the_protocol(tiny_model, name, make, ratio):
    stage = make(tiny_model, 2)
    assert isinstance(stage, Stream)
    assert stage.channels == 2 and isinstance(stage.latency_samples, int) and stage.latency_samples >= 0


@pytest.mark.parametrize("name,make,ratio", STAGES, ids=IDS)
def test_block_size_invariance_latency_gate_and_flush_length(tiny_model, signal, name, make, ratio):
    whole = feed(make(tiny_model, 2), signal, [N], ratio)
    assert whole.shape == (2, round(N * ratio))  # flush completes the length
    for sizes in ([1] * 50 + [997] * 100, list(np.random.default_rng(3).integers(1, 5000, 200)), [4096] * 10):
        assert np.array_equal(feed(make(tiny_model, 2), signal, sizes, ratio), whole), sizes[:3]


@pytest.mark.parametrize("name,make,ratio", STAGES, ids=IDS)
def test_reset_equals_a_fresh_object_and_flush_starts_over(tiny_model, signal, name, make, ratio):
    fresh = run_whole(make(tiny_model, 2), signal)
    stage = make(tiny_model, 2)
    stage.process(np.ones((2, 3001), np.float32))
    stage.reset()
    assert np.array_equal(run_whole(stage, signal), fresh)
    assert np.array_equal(run_whole(stage, signal), fresh)  # after a flush: a new stream, as fresh


def test_restore_stage_equals_the_offline_api(tiny_model, signal):
    restorer = Restorer(tiny_model, SETTINGS)
    offline = restore(signal, 44100, tiny_model, SETTINGS)
    assert np.array_equal(restorer.restore(signal), offline)
    assert np.array_equal(restore(signal, 44100, restorer), offline)  # a Restorer is taken in place of model + settings
    np.testing.assert_allclose(run_whole(restorer.stream(2), signal), offline, atol=1e-5)  # other batching


def test_restorer_binds_once_and_rebinds_on_new_settings(tiny_model):
    restorer = Restorer(tiny_model, SETTINGS)
    assert Restorer.of(restorer) is restorer
    other = Restorer.of(restorer, RestoreSettings(overlap=1024))
    assert other.model is tiny_model and other.plan.overlap == 1024 and restorer.plan.overlap == 2048
    assert restorer.plan.window == tiny_model.manifest.window_samples  # the window comes from the model alone
    assert not hasattr(restorer.settings, "window")
    with pytest.raises(SettingsError, match="overlap"):
        Restorer(tiny_model, RestoreSettings(overlap=3))
    with pytest.raises(ParameterTypeError, match="SagaSRModel"):
        Restorer("model.onnx")
    with pytest.raises(ParameterError, match="channels"):
        restorer.stream(0)


def test_window_fn_band_limits_compose(tiny_model):
    restorer = Restorer(tiny_model, SETTINGS, band_limit_hz=10000.0)
    bin_hz = 44100 / 2048
    assert restorer.window_fn().band_limit_bin == int(10000.0 / bin_hz)
    assert restorer.window_fn(8000.0).band_limit_bin == int(8000.0 / bin_hz)  # the lower limit wins
    assert restorer.window_fn(12000.0).band_limit_bin == int(10000.0 / bin_hz)
    assert Restorer(tiny_model).window_fn().band_limit_bin == 1024


def test_resample_stage_exact_lengths_and_errors():
    x = band_limited_noise(5001, seed=4)[None]
    for source, target in [(16000, 44100), (44100, 48000), (48000, 44100), (8000, 44100), (22050, 44100)]:
        y = run_whole(ResampleStage(source, target, 1), x)
        assert y.shape == (1, exact_length(5001, source, target))
        fixed = run_whole(ResampleStage(source, target, 1, length=y.shape[1] + 3), x)
        assert np.array_equal(fixed[:, : y.shape[1]], y) and not fixed[:, y.shape[1] :].any()  # zero-padded
    assert ResampleStage(16000, 44100, 1).flush().shape == (1, 0)  # a fresh stage flushes to nothing
    assert ResampleStage(16000, 44100, 1, length=7).flush().shape == (1, 7)
    with pytest.raises(AudioInputError, match="shape"):
        ResampleStage(16000, 44100, 2).process(np.zeros((1, 10), np.float32))
    with pytest.raises(ParameterError, match="channels"):
        ResampleStage(16000, 44100, 0)
    with pytest.raises(AudioInputError, match="rate"):
        ResampleStage(100, 44100, 1)


GRID_PAIRS = [(8000, 44100), (16000, 44100), (22050, 44100), (24000, 44100), (32000, 44100), (48000, 44100),
              (96000, 44100), (44100, 48000), (44100, 96000), (192000, 44100), (384000, 44100), (44100, 16000)]


@pytest.mark.parametrize("source,target", GRID_PAIRS, ids=[f"{s}->{t}" for s, t in GRID_PAIRS])
def test_resample_stage_output_lies_on_the_target_grid(source, target):
    """Output sample i is the input at i / ratio: equal to scipy's polyphase resampling of a band-limited signal
    to -45 dB (StreamResampler alone is 0.2-0.4 samples off at these pairs: -10 to -26 dB), block sizes aside."""
    from fractions import Fraction

    from scipy.signal import butter, resample_poly, sosfiltfilt

    rng = np.random.default_rng(3)
    sos = butter(12, 0.4 * min(source, target), fs=target, output="sos")
    exact = sosfiltfilt(sos, rng.standard_normal(target))  # 1 s at the target rate, no content near either Nyquist
    ratio = Fraction(source, target)
    x = resample_poly(exact, ratio.numerator, ratio.denominator)[None].astype(np.float32)
    y = feed(ResampleStage(source, target, 1, length=exact.size), x, [997, 4096, 333] * 200, target / source)
    inner = slice(2000, exact.size - 2000)  # away from both ends' filter edges
    error = y[0, inner] - exact[inner]
    assert 10 * np.log10(np.mean(error**2) / np.mean(exact[inner] ** 2)) < -45


DOWN_PAIRS = [(192000, 44100), (384000, 44100), (160000, 44100), (96000, 44100), (48000, 44100)]


@pytest.mark.parametrize("source,target", DOWN_PAIRS, ids=[f"{s}->{t}" for s, t in DOWN_PAIRS])
def test_resample_stage_into_a_lower_rate_leaves_no_spurs_and_no_aliases(source, target):
    """A 192 kHz file goes to the model's 44.1 kHz through this stage: StreamResampler in one step left spurs 64 dB
    under a tone (61 dB at 384 kHz, 71 at 160 kHz; 99 at 96 and 176.4 kHz), which the band edge detector read as
    band above a low-pass (a 192 kHz file restored less than, or nothing of, the same audio at 176.4 kHz), and let
    tones above 22.05 kHz through at -36 dB."""
    from scipy.signal import welch

    t = np.arange(source) / source
    for tone in (110.0, 1000.0):
        x = (0.5 * np.sin(2 * np.pi * tone * t))[None].astype(np.float32)
        y = run_whole(ResampleStage(source, target, 1), x)[0, 4000:-4000]
        f, p = welch(y, target, nperseg=8192, window="blackmanharris")
        assert 10 * np.log10(p[f > 1.5 * tone].max() / p.max()) < -90
    for tone in (0.55 * target, 0.6 * target, 0.9 * target):  # above the target's Nyquist: filtered out
        if tone < source / 2:
            x = (0.5 * np.sin(2 * np.pi * tone * t))[None].astype(np.float32)
            y = run_whole(ResampleStage(source, target, 1), x)[0, 500:-500]
            assert 20 * np.log10(np.sqrt(2) * y.std() / 0.5) < -70


def test_restore_stage_rejects_a_wrong_channel_count(tiny_model):
    with pytest.raises(AudioInputError, match=r"\(2, samples\)"):
        restore_stage(tiny_model, 2).process(np.zeros((1, 100), np.float32))


def test_series_checks_its_stages(tiny_model):
    with pytest.raises(ParameterError, match="at least one"):
        Series([])
    with pytest.raises(ParameterError, match="channel count"):
        Series([ResampleStage(16000, 44100, 1), restore_stage(tiny_model, 2)])


def test_series_refuses_stages_whose_rates_do_not_meet(tiny_model):
    """A 16 -> 22.05 kHz resampler ahead of a restore stage at 44.1 kHz, or two resamplers that do not meet, ran
    without a word: the audio came out at the wrong speed and pitch."""
    restorer = Restorer(tiny_model, SETTINGS)
    for stages, message in (
            ([ResampleStage(16000, 22050, 1), restorer.stream(1)], "stage 0 .* 22050 Hz .* stage 1 .* 44100 Hz"),
            ([ResampleStage(16000, 44100, 1), ResampleStage(22050, 48000, 1)], "44100 Hz .* 22050 Hz"),
            ([restorer.stream(1), restorer.stream_at(48000, 1)], "44100 Hz .* 48000 Hz"),
            ([Series([ResampleStage(16000, 44100, 1)]), ResampleStage(48000, 96000, 1)], "44100 Hz .* 48000 Hz")):
        with pytest.raises(ParameterError, match=message):
            Series(stages)
    chained = Series([ResampleStage(16000, 44100, 1), restorer.stream(1), ResampleStage(44100, 48000, 1)])
    assert chained.latency_samples > 0  # stages whose rates meet are taken
    Series([ResampleStage(16000, 44100, 1), EffectStage(BandwidthExtension(restorer), 44100, 1)])
