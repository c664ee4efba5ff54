"""Low-rate input: upsample() and the StreamResampler-like StreamingUpsampler agree."""
import numpy as np
import pytest

from sagasr_stream import AudioInputError, restore
from sagasr_stream.upsample import StreamingUpsampler, upsample
from tests.conftest import band_limited_noise


@pytest.mark.parametrize("rate", [16000, 22050, 44100, 48000])
@pytest.mark.parametrize("chunk", [3, 1000, 100_000])
def test_streaming_total_equals_upsample(tiny_model, rate, chunk):
    x = band_limited_noise(6000, cutoff_hz=3000.0, channels=2, seed=rate % 97)
    expected = upsample(x, rate, tiny_model)
    assert expected.shape == (2, round(6000 * 44100 / rate))  # exactly, even where the resampler is short
    up = StreamingUpsampler(rate, 2, model=tiny_model)
    outs, total = [], 0
    for i in range(0, x.shape[1], chunk):
        out = up.process(x[:, i : i + chunk])
        total += out.shape[1]
        assert out.shape[0] == 2 and out.dtype == np.float32
        outs.append(out)
    outs.append(up.process())  # no argument: flush, like StreamResampler
    y = np.concatenate(outs, axis=1)
    assert y.shape == expected.shape
    np.testing.assert_allclose(y, expected, atol=1e-5)


def test_upsample_is_restore_and_mono_works(tiny_model):
    x = band_limited_noise(5000, seed=1)  # 5000 * 44100 / 16000 = 13781.25: restore() has this length too
    np.testing.assert_array_equal(upsample(x, 16000, tiny_model), restore(x, 16000, tiny_model))
    up = StreamingUpsampler(16000, 1, model=tiny_model)
    y = np.concatenate([up.process(x), up.flush()])
    assert y.ndim == 1
    np.testing.assert_allclose(y, upsample(x, 16000, tiny_model), atol=1e-5)


def test_latency_and_reset(tiny_model):
    up = StreamingUpsampler(16000, 1, model=tiny_model)
    assert up.process().shape == (1, 0)  # flushing a fresh stream gives nothing (and does not raise)
    assert up.latency_samples > tiny_model.manifest.window_samples - 1  # resampler + model
    with pytest.warns(DeprecationWarning, match="latency_samples"):
        assert up.output_latency == up.latency_samples
    with pytest.warns(DeprecationWarning, match="latency_samples"):
        assert up.input_latency == pytest.approx(up.latency_samples * 16000 / 44100)
    x = band_limited_noise(5000, seed=2)
    # nothing comes out before the latency has passed
    assert up.process(x[:1000]).shape == (0,)
    up.reset()
    y = np.concatenate([up.process(x), up.process()])
    np.testing.assert_allclose(y, upsample(x, 16000, tiny_model), atol=1e-5)


def test_upsample_answers_at_the_model_rate_unlike_restore(tiny_model):
    """upsample(): any rate in -> the model's rate (or ``output_rate``) out; restore() keeps a >= 44.1 kHz rate."""
    x = band_limited_noise(6000, cutoff_hz=3000.0, seed=8)
    y = upsample(x, 48000, tiny_model)
    assert y.shape == (round(6000 * 44100 / 48000),)
    assert restore(x, 48000, tiny_model).shape == (6000,)
    np.testing.assert_array_equal(y, restore(x, 48000, tiny_model, output_rate=44100))
    np.testing.assert_array_equal(upsample(x, 16000, tiny_model, output_rate=48000), restore(x, 16000, tiny_model, output_rate=48000))


def test_bad_input(tiny_model):
    with pytest.raises(ValueError, match="num_channels"):
        StreamingUpsampler(16000, 0, model=tiny_model)
    up = StreamingUpsampler(16000, 2, model=tiny_model)
    with pytest.raises(AudioInputError, match="shape"):
        up.process(np.zeros((1, 100), np.float32))
    with pytest.raises(TypeError, match="dtype"):
        up.process(np.zeros((2, 100), np.int16))
    with pytest.raises(AudioInputError, match="rate"):
        StreamingUpsampler(100, 1, model=tiny_model)


def test_the_source_nyquist_caps_the_band_edge(tiny_model, monkeypatch):
    import sagasr_stream.bandlimit as bandlimit
    import sagasr_stream.engine as engine
    from sagasr_stream.audio_io import resample
    from tests.runtime.material import drums_like

    full_band = lambda power, *floor: power.shape[-1] - 1  # noqa: E731  a detector that sees full band
    monkeypatch.setattr(engine, "band_edge_from_power", full_band)
    monkeypatch.setattr(bandlimit, "band_limit_of", lambda *measured: None)  # in the signal too
    x = drums_like(1.0)[::2].copy()  # 22.05 kHz: its band ends at 11.025 kHz whatever a detector says
    plain = resample(x[None, :], 22050, 44100)[0]
    assert np.array_equal(restore(plain, 44100, tiny_model), plain)  # at 44.1 kHz: passed through
    y = upsample(x, 22050, tiny_model)
    assert not np.array_equal(y, plain)  # from 22.05 kHz: restored above 11 kHz
    stream = StreamingUpsampler(22050, 1, tiny_model)
    out = np.concatenate([stream.process(x[i : i + 3000]) for i in range(0, x.size, 3000)] + [stream.process()])
    assert np.array_equal(out, y)
    assert not np.array_equal(restore(x, 22050, tiny_model), plain)  # restore() resamples and caps too
