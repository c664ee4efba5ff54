"""band_gain and band_tilt: the user's trim of the restored band (sagasr_stream.band_trim)."""
from __future__ import annotations

import numpy as np
import pytest

import sagasr_stream as ss
from sagasr_stream.band_trim import is_gain_db, is_tilt_db, trim_band
from sagasr_stream.dsp import N_FFT, band_edge_bin, float64_stft
from sagasr_stream.errors import SettingsError
from sagasr_stream.settings import RestoreSettings, resolve

from ..conftest import band_limited_noise

SR = 44100
BIN_HZ = SR / N_FFT


def level_db(x: np.ndarray, low_hz: float, high_hz: float) -> float:
    """Mean log power (dB) of ``x``'s STFT bins in [low_hz, high_hz)."""
    power = np.abs(float64_stft(np.asarray(x, np.float64))[int(low_hz / BIN_HZ) : int(high_hz / BIN_HZ)]) ** 2
    return float(np.mean(10 * np.log10(power + 1e-20)))


# --- the trim ------------------------------------------------------------------------------------------------
def test_the_band_moves_by_the_gain_plus_the_tilt_per_octave_above_the_edge() -> None:
    spec = np.exp(1j * np.random.default_rng(0).uniform(0, 6.28, (1025, 5)))
    edge = 256                                             # 5.5 kHz
    trimmed = spec.copy()
    trim_band(trimmed, edge, -6.0, -3.0)
    gain_db = 20 * np.log10(np.abs(trimmed) / np.abs(spec))
    assert np.array_equal(trimmed[:edge], spec[:edge])
    np.testing.assert_allclose(gain_db[edge], -6.0, atol=1e-9)
    np.testing.assert_allclose(gain_db[2 * edge], -9.0, atol=1e-9)   # an octave up
    np.testing.assert_allclose(np.angle(trimmed), np.angle(spec), atol=1e-9)


def test_no_trim_or_no_band_changes_nothing() -> None:
    spec = np.ones((1025, 3), complex)
    for edge, gain, tilt in ((300, 0.0, 0.0), (0, -6.0, 0.0), (1025, -6.0, 2.0)):
        trimmed = spec.copy()
        trim_band(trimmed, edge, gain, tilt)
        assert np.array_equal(trimmed, spec)


@pytest.mark.parametrize("value, gain_ok, tilt_ok", [
    (0, True, True), (-24.0, True, False), (12, True, True), (24.5, False, False), (float("nan"), False, False),
    (True, False, False), ("3", False, False), (np.float32(-12.0), True, True), (np.float64(30.0), False, False),
])
def test_the_limits(value: object, gain_ok: bool, tilt_ok: bool) -> None:
    assert is_gain_db(value) is gain_ok and is_tilt_db(value) is tilt_ok


# --- settings ------------------------------------------------------------------------------------------------
def test_the_trim_is_off_by_default_and_resolved_when_given(tiny_model: ss.SagaSRModel) -> None:
    plain = resolve(RestoreSettings(), tiny_model.manifest)
    assert (plain.band_gain_db, plain.band_tilt_db, plain.trims_band) == (0.0, 0.0, False)
    trimmed = resolve(RestoreSettings(band_gain=-3, band_tilt=1.5), tiny_model.manifest)
    assert (trimmed.band_gain_db, trimmed.band_tilt_db, trimmed.trims_band) == (-3.0, 1.5, True)


@pytest.mark.parametrize("settings, message", [
    (RestoreSettings(band_gain=30.0), "band_gain must be a level in dB within \\+-24, got 30.0"),
    (RestoreSettings(band_tilt=-13.0), "band_tilt must be a slope in dB per octave within \\+-12, got -13.0"),
    (RestoreSettings(band_gain=float("inf")), "band_gain must be a level in dB"),
    (RestoreSettings(band_gain=-3.0, low_band="off"), "band_gain and band_tilt need low_band 'keep', got 'off'"),
])
def test_bad_trims_are_refused(tiny_model: ss.SagaSRModel, settings: RestoreSettings, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        resolve(settings, tiny_model.manifest)


# --- the restoration -----------------------------------------------------------------------------------------
def test_the_restored_band_moves_by_the_gain_and_the_input_band_stays(tiny_model: ss.SagaSRModel) -> None:
    x = band_limited_noise(SR, 6000.0, seed=3)
    edge_hz = int(band_edge_bin(x)) * BIN_HZ
    plain = ss.restore(x, SR, tiny_model)
    quieter = ss.restore(x, SR, tiny_model, RestoreSettings(band_gain=-6.0))
    band = (edge_hz + 500, 20000)
    assert level_db(quieter, *band) - level_db(plain, *band) == pytest.approx(-6.0, abs=0.5)
    assert level_db(quieter, 1000, 5000) == pytest.approx(level_db(plain, 1000, 5000), abs=0.01)


def test_a_tilt_darkens_the_top_more_than_the_bottom(tiny_model: ss.SagaSRModel) -> None:
    x = band_limited_noise(SR, 5000.0, seed=4)
    edge_hz = int(band_edge_bin(x)) * BIN_HZ
    plain = ss.restore(x, SR, tiny_model)
    tilted = ss.restore(x, SR, tiny_model, RestoreSettings(band_tilt=-6.0))
    bottom = [level_db(y, edge_hz * 1.05, edge_hz * 1.25) for y in (plain, tilted)]
    top = [level_db(y, edge_hz * 3.0, edge_hz * 3.6) for y in (plain, tilted)]
    assert bottom[1] - bottom[0] == pytest.approx(-6.0 * np.log2(1.15), abs=0.6)
    assert top[1] - top[0] == pytest.approx(-6.0 * np.log2(3.3), abs=0.6)


def test_results_do_not_depend_on_the_batch_size(tiny_model: ss.SagaSRModel) -> None:
    x = band_limited_noise(SR, 6000.0, seed=7)
    settings = RestoreSettings(band_gain=-4.0, band_tilt=2.0)
    one = ss.restore(x, SR, tiny_model, settings.with_(batch_size=1))
    assert np.array_equal(one, ss.restore(x, SR, tiny_model, settings.with_(batch_size=3)))


def test_a_stream_with_a_trim_equals_the_offline_result_for_any_block_size(tiny_model: ss.SagaSRModel) -> None:
    from .test_stream import assert_streams_as_offline

    x = band_limited_noise(int(0.7 * SR), 6000.0, seed=8)
    assert_streams_as_offline(tiny_model, RestoreSettings(overlap=2048, band_gain=-6.0, band_tilt=-2.0), x,
                              band_gain=0.0, band_tilt=0.0)


def test_identical_channels_stay_identical(tiny_model: ss.SagaSRModel) -> None:
    x = band_limited_noise(SR, 6000.0, seed=9)
    pair = ss.restore(np.stack([x, x]), SR, tiny_model, RestoreSettings(band_gain=-3.0))
    assert np.array_equal(pair[0], pair[1])
