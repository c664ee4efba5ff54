"""band_transients: the restored band's short-time shape after the input's (sagasr_stream.band_transients)."""
from __future__ import annotations

import numpy as np
import pytest

import sagasr_stream as ss
from sagasr_stream.band_transients import SHORT_FFT, SHORT_HOP, follow_input_transients, shaping_gains
from sagasr_stream.dsp import stft
from sagasr_stream.errors import SettingsError
from sagasr_stream.settings import RestoreSettings, resolve

from ..conftest import band_limited_noise, with_defaults

SR = 44100
EDGE_BIN = 372  # n_fft 2048: 8010 Hz
EDGE_HZ = EDGE_BIN * SR / 2048


def hits_and_haze(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A window's input, band-limited noise hits (a 6 kHz low-pass; the band edge is read at 8 kHz) every 0.25 s,
    each decaying in 20 ms, and a restored version: the input plus a steady noise band above the edge (a haze
    that ignores the hits)."""
    n = SR
    t = np.arange(n) / SR
    envelope = np.exp(-(t % 0.25) / 0.02)
    x = band_limited_noise(n, 6000.0, seed=seed) * envelope.astype(np.float32)
    haze = np.random.default_rng(seed + 1).standard_normal(n)
    band = 0.02 * np.fft.irfft(np.fft.rfft(haze) * (np.fft.rfftfreq(n, 1 / SR) > EDGE_HZ), n)
    return x, (x + band).astype(np.float32)


def band_envelope(y: np.ndarray, low_hz: float) -> np.ndarray:
    """log energy per short frame above ``low_hz``."""
    spec = stft(y.astype(np.float64), SHORT_FFT, SHORT_HOP)
    return np.log((np.abs(spec[int(np.ceil(low_hz / (SR / SHORT_FFT))) :]) ** 2).sum(axis=0) + 1e-20)


def test_the_band_follows_the_input_s_hits() -> None:
    x, restored = hits_and_haze()
    hits = np.log((np.abs(stft(x.astype(np.float64), SHORT_FFT, SHORT_HOP)) ** 2).sum(axis=0) + 1e-20)
    before = np.corrcoef(band_envelope(restored, 9000.0), hits)[0, 1]
    shaped = follow_input_transients(restored, x, EDGE_BIN, 1.0, SR)
    after = np.corrcoef(band_envelope(shaped, 9000.0), hits)[0, 1]
    assert before < 0.2 < 0.7 < after
    half = np.corrcoef(band_envelope(follow_input_transients(restored, x, EDGE_BIN, 0.5, SR), 9000.0), hits)[0, 1]
    assert before < half < after


def test_the_band_keeps_its_level() -> None:
    x, restored = hits_and_haze(seed=3)
    shaped = follow_input_transients(restored, x, EDGE_BIN, 0.4, SR)
    level = [np.mean(band_envelope(y, 9000.0)) for y in (restored, shaped)]
    assert abs(level[1] - level[0]) < np.log(10 ** 0.3)  # the mean log energy moves less than 3 dB


def test_the_input_s_band_below_the_edge_is_left_as_it_is() -> None:
    x, restored = hits_and_haze(seed=4)
    shaped = follow_input_transients(restored, x, EDGE_BIN, 1.0, SR)
    below = [np.abs(stft(y.astype(np.float64), 2048, 512)[: EDGE_BIN - 5]) for y in (restored, shaped)]
    assert np.linalg.norm(below[1] - below[0]) < 3e-5 * np.linalg.norm(below[0])  # -90 dB (measured -104 dB)


@pytest.mark.parametrize("edge_bin", [5, 1020])  # 108 Hz, 21.96 kHz
def test_an_edge_with_no_octave_below_or_no_band_above_leaves_the_window(edge_bin: int) -> None:
    x, restored = hits_and_haze()
    assert follow_input_transients(restored, x, edge_bin, 1.0, SR) is restored


def test_share_zero_changes_nothing() -> None:
    x, restored = hits_and_haze()
    assert follow_input_transients(restored, x, EDGE_BIN, 0.0, SR) is restored


def test_gains_are_clipped_and_one_where_both_deviate_alike() -> None:
    steady = np.ones(200)
    assert np.allclose(shaping_gains(steady, steady, 1.0), 1.0)
    click = steady.copy()
    click[100] = 1e12
    gains = shaping_gains(click, steady, 1.0)
    assert gains.max() == pytest.approx(10.0)  # +20 dB in power is 10x in amplitude, the clip
    np.testing.assert_allclose(shaping_gains(click, click, 1.0), 1.0)


# --- settings ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("settings, message", [
    (RestoreSettings(band_transients=1.5), "band_transients must be a share in \\[0, 1\\] or 'off', got 1.5"),
    (RestoreSettings(band_transients=0.3, low_band="replace"), "band_transients needs low_band 'keep', got 'replace'"),
])
def test_bad_settings_are_refused(tiny_model: ss.SagaSRModel, settings: RestoreSettings, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        resolve(settings, tiny_model.manifest)


# --- the restoration -----------------------------------------------------------------------------------------
def test_results_do_not_depend_on_the_batch_size(tiny_model: ss.SagaSRModel) -> None:
    x = band_limited_noise(SR, 6000.0, seed=7)
    settings = RestoreSettings(band_transients=0.4)
    one = ss.restore(x, SR, tiny_model, settings.with_(batch_size=1))
    assert np.array_equal(one, ss.restore(x, SR, tiny_model, settings.with_(batch_size=3)))


def test_a_stream_equals_the_offline_result_for_any_block_size(tiny_model: ss.SagaSRModel) -> None:
    from .test_stream import assert_streams_as_offline

    model = with_defaults(tiny_model, band_transients=0.4)
    x = band_limited_noise(int(0.7 * SR), 6000.0, seed=8)
    assert_streams_as_offline(model, RestoreSettings(overlap=2048), x, band_transients="off")


def test_a_linked_stereo_stream_equals_the_offline_result(tiny_model: ss.SagaSRModel) -> None:
    from .test_stream import stream_in_blocks

    model = with_defaults(tiny_model, band_transients=0.4)
    left = band_limited_noise(int(0.7 * SR), 6000.0, seed=9)
    pair = np.stack([left, 0.6 * left + 0.4 * band_limited_noise(left.size, 6000.0, seed=10)]).astype(np.float32)
    settings = RestoreSettings(overlap=2048, stereo="linked")
    offline = ss.restore(pair, SR, model, settings, layout="channels_first")
    assert not np.array_equal(offline, ss.restore(pair, SR, model, settings.with_(band_transients="off"),
                                                  layout="channels_first"))
    stream = ss.StreamingRestorer(model, settings, channels=2)
    np.testing.assert_allclose(stream_in_blocks(stream, pair, iter(lambda: 777, None)), offline, atol=1e-5)
