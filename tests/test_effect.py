"""BandwidthExtension follows pedalboard's call contract (mirrors pedalboard's own plugin tests)."""
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from sagasr_stream import AudioInputError, AudioTypeError, restore
from sagasr_stream.chain import Chain
from sagasr_stream.effect import BandwidthExtension
from tests.conftest import band_limited_noise

SR = 44100
N = 12000  # a bit over one 8192-sample window of the tiny model: two windows with the default overlap


@pytest.fixture(scope="module")
def stereo():
    return band_limited_noise(N, channels=2, seed=3)


@pytest.fixture(scope="module")
def stereo_restored(tiny_model, stereo):
    return restore(stereo, SR, tiny_model)


def as_shape(stereo: np.ndarray, shape: str) -> np.ndarray:
    return {
        "(n,)": stereo[0],
        "(n,1)": np.ascontiguousarray(stereo[:1].T),
        "(1,n)": stereo[:1].copy(),
        "(2,n)": stereo,
        "(n,2)": np.ascontiguousarray(stereo.T),
    }[shape]


def test_contract_attributes(tiny_model):
    fx = BandwidthExtension(tiny_model)
    assert fx.is_effect is True and fx.is_instrument is False
    assert fx.reported_latency_samples == tiny_model.manifest.window_samples - 1
    assert BandwidthExtension(tiny_model, windows_per_call=2).reported_latency_samples > fx.reported_latency_samples


@pytest.mark.parametrize("shape", ["(n,)", "(n,1)", "(1,n)", "(2,n)", "(n,2)"])
def test_shapes_round_trip_and_equal_restore(tiny_model, stereo, shape):
    x = as_shape(stereo, shape)
    y = BandwidthExtension(tiny_model).process(x, SR)
    assert y.shape == x.shape and y.dtype == np.float32
    np.testing.assert_array_equal(y, restore(x, SR, tiny_model))
    assert not np.allclose(y, x)  # it did something


@pytest.mark.parametrize("shape", [(0,), (0, 1), (1, 0), (0, 2), (2, 0)])
@pytest.mark.parametrize("reset", [True, False])
def test_empty_buffers_keep_their_shape(tiny_model, shape, reset):
    y = BandwidthExtension(tiny_model).process(np.zeros(shape, np.float32), SR, reset=reset)
    assert y.shape == shape and y.dtype == np.float32


def test_one_by_one_buffer_is_one_sample(tiny_model):
    x = np.full((1, 1), 0.25, np.float32)
    y = BandwidthExtension(tiny_model).process(x, SR)
    assert y.shape == (1, 1)
    np.testing.assert_array_equal(y[0], restore(x[0], SR, tiny_model))


def test_square_buffer_is_ambiguous_until_a_layout_is_known(tiny_model, stereo):
    fx = BandwidthExtension(tiny_model)
    square = np.array([[0.1, 0.2], [0.3, 0.4]], np.float32)
    with pytest.raises(AudioInputError, match="square"):
        fx.process(square, SR)
    fx.process(np.ascontiguousarray(stereo[:, :100].T), SR)  # (100, 2): channels last
    y = fx.process(square, SR)  # now read as two stereo frames, channels last
    np.testing.assert_array_equal(y, restore(square, SR, tiny_model, layout="channels_last"))
    fx.reset()  # the cached layout goes with reset()
    with pytest.raises(AudioInputError, match="square"):
        fx.process(square, SR)


def test_known_channel_count_resolves_short_buffers(tiny_model, stereo):
    """(2, 1) after (2, n) is one stereo frame, as in pedalboard."""
    fx = BandwidthExtension(tiny_model)
    fx.process(stereo[:, :100], SR, reset=False)
    assert fx.process(stereo[:, 100:101], SR, reset=False).shape == (2, 0)  # 2 channels, still within latency


def test_dtypes(tiny_model, stereo):
    fx = BandwidthExtension(tiny_model)
    x = stereo[0]
    y64 = fx.process(x.astype(np.float64), SR)
    assert y64.dtype == np.float32
    np.testing.assert_array_equal(y64, fx.process(x, SR))
    for dtype in (np.int16, np.int32, np.complex64):
        with pytest.raises(TypeError, match="dtype"):
            fx.process(x.astype(dtype), SR)
    assert issubclass(AudioTypeError, TypeError)
    with pytest.raises(TypeError):
        fx.process([0.0, 0.1], SR)


def test_other_sample_rates_are_rejected_with_a_pointer_to_upsample(tiny_model, stereo):
    fx = BandwidthExtension(tiny_model)
    with pytest.raises(AudioInputError, match="44100 Hz.*16000 Hz.*upsample"):
        fx.process(stereo[0], 16000)
    with pytest.raises(AudioInputError, match="NaN"):
        fx.process(np.array([0.0, np.nan], np.float32), SR)
    with pytest.raises(ValueError, match="buffer_size"):
        fx.process(stereo[0], SR, buffer_size=0)


@pytest.mark.parametrize("buffer_size", [1, 7000, 8192, 1_000_000])
def test_output_identical_for_every_buffer_size(tiny_model, buffer_size):
    n = 9000 if buffer_size == 1 else N  # buffer_size=1 is a Python loop per sample: keep it short
    x = band_limited_noise(n, channels=2, seed=4)
    y = BandwidthExtension(tiny_model).process(x, SR, buffer_size=buffer_size)
    np.testing.assert_allclose(y, restore(x, SR, tiny_model), atol=1e-6)


def test_latency_is_compensated_with_reset_true(tiny_model):
    """The kept low band comes out at lag 0: output is time-aligned despite 8191 samples of latency."""
    from scipy import signal

    x = band_limited_noise(N, cutoff_hz=4000.0, seed=7)
    fx = BandwidthExtension(tiny_model)
    y = fx.process(x, SR)
    assert y.shape == x.shape and fx.reported_latency_samples > 0
    sos = signal.butter(8, 2500, fs=SR, output="sos")
    low_x, low_y = signal.sosfiltfilt(sos, x), signal.sosfiltfilt(sos, y)
    lags = np.arange(-200, 201)
    corr = [np.dot(low_x[200:-200], np.roll(low_y, -lag)[200:-200]) for lag in lags]
    assert lags[int(np.argmax(corr))] == 0
    assert np.sqrt(np.mean((low_y - low_x) ** 2)) < 0.02 * np.sqrt(np.mean(low_x**2))


def test_streaming_in_3_sample_chunks_equals_reset_true(tiny_model, stereo, stereo_restored):
    fx = BandwidthExtension(tiny_model)
    x = np.ascontiguousarray(stereo.T)  # (n, 2): the layout is kept in every chunk
    outs, total_in, total_out = [], 0, 0
    for i in range(0, N, 3):
        out = fx.process(x[i : i + 3], SR, reset=False)
        total_in += len(x[i : i + 3])
        total_out += len(out)
        assert total_out == max(0, total_in - fx.reported_latency_samples)  # right-aligned, never longer
        outs.append(out)
    tail = fx.flush()
    assert len(tail) == fx.reported_latency_samples
    y = np.concatenate(outs + [tail])
    assert y.shape == x.shape
    np.testing.assert_allclose(y.T, stereo_restored, atol=1e-5)
    assert fx.flush().shape == (0, 2)  # flush cleared the stream


def test_reset_true_ignores_a_stream_in_progress(tiny_model, stereo, stereo_restored):
    fx = BandwidthExtension(tiny_model)
    fx.process(stereo[:, :5000], SR, reset=False)
    np.testing.assert_array_equal(fx.process(stereo, SR), stereo_restored)
    assert fx.flush().shape == (2, 0)  # reset=True leaves no state


def test_channel_count_change_mid_stream_is_an_error(tiny_model, stereo):
    fx = BandwidthExtension(tiny_model)
    fx.process(stereo[:, :1000], SR, reset=False)
    with pytest.raises(AudioInputError, match="1-channel buffer while a 2-channel stream"):
        fx.process(stereo[0, :1000], SR, reset=False)
    fx.process(stereo[0, :1000], SR)  # reset=True starts afresh: fine
    fx.reset()
    assert fx.process(stereo[0, :1000], SR, reset=False).shape == (0,)


def test_separate_instances_in_threads_match_serial(tiny_model):
    signals = [band_limited_noise(N, channels=2, seed=s) for s in range(4)]
    serial = [BandwidthExtension(tiny_model).process(x, SR) for x in signals]
    with ThreadPoolExecutor(4) as pool:
        threaded = list(pool.map(lambda x: BandwidthExtension(tiny_model).process(x, SR), signals))
    for a, b in zip(serial, threaded):
        np.testing.assert_array_equal(a, b)


def test_shared_instance_from_threads_does_not_deadlock(tiny_model, stereo, stereo_restored):
    fx = BandwidthExtension(tiny_model)
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(fx.process, stereo, SR) for _ in range(6)]
        results = [f.result(timeout=60) for f in futures]
    for y in results:  # reset=True calls are independent, and the lock serialises them
        np.testing.assert_array_equal(y, stereo_restored)


def test_rejected_buffer_leaves_the_stream_intact(tiny_model, stereo, stereo_restored):
    fx = BandwidthExtension(tiny_model)
    first = fx.process(stereo[:, :9000], SR, reset=False, buffer_size=4096)
    bad = stereo[:, 9000:].copy()
    bad[:, -1] = np.nan  # found before any of the buffer's blocks is streamed
    with pytest.raises(AudioInputError, match="NaN"):
        fx.process(bad, SR, reset=False, buffer_size=1000)
    y = np.concatenate([first, fx.process(stereo[:, 9000:], SR, reset=False), fx.flush()], axis=1)
    np.testing.assert_allclose(y, stereo_restored, atol=1e-5)


def test_empty_buffer_mid_stream_is_a_no_op(tiny_model, stereo, stereo_restored):
    """Zero samples of any channel count: same shape back, the stream in progress is untouched."""
    fx = BandwidthExtension(tiny_model)
    first = fx.process(stereo[:, :9000], SR, reset=False)
    for shape in [(0,), (1, 0), (0, 2)]:
        assert fx.process(np.zeros(shape, np.float32), SR, reset=False).shape == shape
    y = np.concatenate([first, fx.process(stereo[:, 9000:], SR, reset=False), fx.flush()], axis=1)
    np.testing.assert_allclose(y, stereo_restored, atol=1e-5)


def test_each_instance_has_its_own_lock(tiny_model):
    a, b = BandwidthExtension(tiny_model), BandwidthExtension(tiny_model)
    assert a._lock is not b._lock
    with a._lock:  # a busy instance does not block another one
        assert b.process(np.zeros(10, np.float32), SR).shape == (10,)


def test_a_48_khz_buffer_is_restored_as_restore_does_at_48_khz(tiny_model, stereo):
    """Above the model's rate the effect restores at 44.1 kHz and answers at the buffer's rate with the input
    kept (``restore``'s own pipeline), whatever the buffer size and layout."""
    expected = restore(stereo, 48000, tiny_model)
    assert expected.shape == stereo.shape and not np.array_equal(expected, stereo)
    fx = BandwidthExtension(tiny_model)
    for buffer_size in (1000, 8192):
        np.testing.assert_array_equal(fx.process(stereo, 48000, buffer_size=buffer_size), expected)
    np.testing.assert_array_equal(fx.process(np.ascontiguousarray(stereo.T), 48000), expected.T)
    np.testing.assert_array_equal(fx.process(stereo, SR), restore(stereo, SR, tiny_model))  # back at 44.1 kHz


@pytest.mark.parametrize("rate", [48000, 96000])
def test_streaming_above_the_models_rate_is_exactly_latency_late(tiny_model, rate):
    x = band_limited_noise(3 * N, channels=2, seed=rate)
    fx = BandwidthExtension(tiny_model)
    cuts = np.sort(np.random.default_rng(rate).choice(np.arange(1, x.shape[1]), 30, replace=False))
    pieces, fed = [], 0
    for block in np.split(x, cuts, axis=1):
        pieces.append(fx.process(block, rate, reset=False))
        fed += block.shape[1]
        assert sum(p.shape[1] for p in pieces) == max(0, fed - fx.reported_latency_samples)  # pedalboard's contract
    assert fx.reported_latency_samples > tiny_model.manifest.window_samples * rate / SR
    assert BandwidthExtension(tiny_model).latency_at(rate) == fx.reported_latency_samples  # known beforehand
    assert fx.latency_at(SR) == BandwidthExtension(tiny_model).reported_latency_samples
    y = np.concatenate([*pieces, fx.flush()], axis=1)
    np.testing.assert_allclose(y, restore(x, rate, tiny_model), atol=1e-5)  # windows batched differently offline


def test_a_rate_below_the_models_or_a_rate_change_mid_stream_is_refused(tiny_model, stereo):
    fx = BandwidthExtension(tiny_model)
    with pytest.raises(AudioInputError, match="44100 Hz, or above; got 32000 Hz"):
        fx.process(stereo, 32000)
    with pytest.raises(AudioInputError, match="44100 Hz, or above; got 32000 Hz"):
        fx.latency_at(32000)
    first = fx.process(stereo[:, :5000], 48000, reset=False)
    with pytest.raises(AudioInputError, match="48000 Hz stream is in progress; got 44100 Hz"):
        fx.process(stereo[:, 5000:], SR, reset=False)
    rest = [fx.process(stereo[:, 5000:], 48000, reset=False), fx.flush()]  # the stream is intact
    np.testing.assert_allclose(np.concatenate([first, *rest], axis=1), restore(stereo, 48000, tiny_model), atol=1e-5)


def test_reset_forgets_the_rate_of_a_stream(tiny_model):
    """reset() gives a new instance's state: the latency reported after a 48 kHz stream is the model rate's again
    (it stayed the 48 kHz one), as is that of a Chain holding the effect."""
    fresh = BandwidthExtension(tiny_model).reported_latency_samples
    fx = BandwidthExtension(tiny_model)
    chain = Chain([fx])
    chain.process(band_limited_noise(3000, channels=2, seed=3), 48000, reset=False)
    assert fx.reported_latency_samples == fx.latency_at(48000) != fresh
    chain.reset()
    assert fx.reported_latency_samples == chain.reported_latency_samples == fresh
    fx.process(band_limited_noise(3000, seed=4), 48000, reset=False)
    fx.flush()  # a flush ends the stream but keeps its rate (as the layout cache), for the next one
    assert fx.reported_latency_samples == fx.latency_at(48000)


def test_a_16_bit_buffer_at_48_khz_is_restored_as_restore_does(tiny_model):
    """reset=True equals restore() also where the input's integer grid matters: restore() looks for a cut under
    a 16-bit input's rounding floor, the effect did not (it passed this quiet 48 kHz buffer through unrestored)."""
    from sagasr_stream.degradation import LowPassSpec, band_limit

    x = band_limit(np.random.default_rng(0).standard_normal(48000), 48000, LowPassSpec("butter", 4, 8000),
                   resample=False)
    x = (np.round(x / np.abs(x).max() * 10 ** (-50 / 20) * 32768) / 32768).astype(np.float32)  # -50 dBFS, 16 bits
    expected = restore(x, 48000, tiny_model)
    assert not np.array_equal(expected, x)  # restored
    fx = BandwidthExtension(tiny_model)
    np.testing.assert_array_equal(fx.process(x, 48000, buffer_size=4096), expected)
    np.testing.assert_array_equal(Chain([fx]).process(x[None], 48000)[0], expected)
