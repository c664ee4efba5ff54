"""band_level "matched": the restored band of a noise-excited model scaled to the log spectrum that the octave
below the edge implies (sagasr_stream.band_level)."""
from __future__ import annotations

import numpy as np
import pytest

import sagasr_stream as ss
from sagasr_stream.band_level import BandLevelFit, band_gains, below_edge_peakiness_db, peakiness_db
from sagasr_stream.dsp import N_FFT, float64_stft
from sagasr_stream.errors import BundleError, SettingsError
from sagasr_stream.settings import RestoreSettings, resolve

from ..conftest import band_limited_noise, with_defaults

SR = 44100
NOISE_PEAKINESS_DB = -2.35  # white noise above 4 kHz: exponential bin powers (-2.5 dB in the limit of wide
                            # bands; a narrow band's own mean and trend sit closer to its bins: -2.0 dB at 2-4 kHz)


def power(x: np.ndarray) -> np.ndarray:
    return np.abs(float64_stft(x.astype(np.float64))) ** 2


def harmonic_tone(seconds: float = 2.0, f0: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, int(20000 / f0))).astype(np.float32)


def with_fit(model: ss.SagaSRModel, fit: dict | None) -> ss.SagaSRModel:
    """``model`` (the same graphs) with ``fit`` as its bundle's ``defaults.band_level``."""
    return with_defaults(model, band_level=fit)


# --- the measure ---------------------------------------------------------------------------------------------
def test_white_noise_is_as_peaky_as_exponential_bin_powers() -> None:
    noise = np.random.default_rng(0).standard_normal(10 * SR)
    for low, high in ((4000.0, 8000.0), (8000.0, 20000.0)):
        assert peakiness_db(power(noise), low, high) == pytest.approx(NOISE_PEAKINESS_DB, abs=0.1)
    assert peakiness_db(power(noise), 2000.0, 4000.0) == pytest.approx(-2.0, abs=0.1)


def test_a_smooth_slope_is_not_peakiness() -> None:
    """A steep filter's transition band just below the edge tilts the bands there; the trend is removed."""
    from scipy import signal

    noise = np.random.default_rng(2).standard_normal(6 * SR)
    tilted = signal.sosfiltfilt(signal.butter(8, 7000.0, fs=SR, output="sos"), noise)  # -48 dB/octave from 7 kHz
    flat, sloped = peakiness_db(power(noise), 4000.0, 8000.0), peakiness_db(power(tilted), 4000.0, 8000.0)
    assert sloped == pytest.approx(flat, abs=0.1)  # without the trend removal: 0.4 dB apart


def test_harmonics_are_peakier_than_noise_and_the_level_does_not_matter() -> None:
    tone = harmonic_tone()
    p = peakiness_db(power(tone), 4000.0, 8000.0)
    assert p < -8.0
    assert peakiness_db(power(0.01 * tone), 4000.0, 8000.0) == pytest.approx(p, abs=1e-3)


def test_unmeasurable_octaves_give_none() -> None:
    assert peakiness_db(np.zeros((N_FFT // 2 + 1, 10)), 4000.0, 8000.0) is None  # digital silence
    assert peakiness_db(power(harmonic_tone(0.5)), 100.0, 200.0) is None  # every 1/6-octave band under 4 bins
    assert peakiness_db(power(harmonic_tone(0.5)), 0.0, 0.0) is None  # an edge at 0 Hz: once, an endless loop


def test_silent_frames_do_not_count() -> None:
    noise = np.random.default_rng(1).standard_normal(4 * SR)
    padded = np.concatenate([noise, np.zeros(4 * SR)])
    assert peakiness_db(power(padded), 4000.0, 8000.0) == pytest.approx(peakiness_db(power(noise), 4000.0, 8000.0), abs=0.05)


# --- the fit -------------------------------------------------------------------------------------------------
def test_the_gain_is_never_above_zero_nor_below_the_floor() -> None:
    fit = BandLevelFit(slope=0.75, intercept_db=1.9, floor_db=-8.0)
    assert fit.gain_db(NOISE_PEAKINESS_DB) == 0.0  # noise: 0.75 * -2.35 + 1.9 > 0 -> left as predicted
    assert fit.gain_db(-6.0) == pytest.approx(-2.6)
    assert fit.gain_db(-40.0) == -8.0


@pytest.mark.parametrize("bad, message", [
    ({"slope": 1.0, "intercept_db": 0.0}, "exactly slope, intercept_db, floor_db"),
    ({"slope": 1.0, "intercept_db": 0.0, "floor_db": -8.0, "extra": 1}, "exactly"),
    ({"slope": "1", "intercept_db": 0.0, "floor_db": -8.0}, "slope must be a finite number"),
    ({"slope": 1.0, "intercept_db": float("nan"), "floor_db": -8.0}, "intercept_db must be a finite number"),
    ({"slope": True, "intercept_db": 0.0, "floor_db": -8.0}, "slope must be a finite number"),
    ({"slope": 1.0, "intercept_db": 0.0, "floor_db": 3.0}, "floor_db must be <= 0"),
    ([1.0, 0.0, -8.0], "expected an object"),
])
def test_a_bad_fit_is_refused_naming_the_field(bad, message: str) -> None:
    with pytest.raises(BundleError, match=message):
        BandLevelFit.from_dict(bad)


def test_gains_are_one_without_a_fit_and_follow_the_octave_below_with_one() -> None:
    windows = np.stack([band_limited_noise(SR, 8000.0, seed=0), 0.3 * harmonic_tone(1.0)[:SR]])
    spec = float64_stft(windows.astype(np.float64))
    edges = np.array([int(7600 / (SR / N_FFT))] * 2)
    assert np.array_equal(band_gains(spec, edges, None), np.ones(2, np.float32))
    fit = BandLevelFit(0.75, 1.8, -8.0)
    gains = band_gains(spec, edges, fit)
    expected = [10 ** (fit.gain_db(below_edge_peakiness_db(spec[i], int(edges[i]))) / 20) for i in range(2)]
    assert gains == pytest.approx(expected, rel=1e-6)
    assert gains[0] == 1.0 and gains[1] < 0.6  # the noise as predicted, the harmonic window quieter


# --- the settings --------------------------------------------------------------------------------------------
def test_matched_is_the_default_of_a_bundle_with_a_fit_and_needs_one(tiny_model: ss.SagaSRModel) -> None:
    fit = {"slope": 0.75, "intercept_db": 1.8, "floor_db": -8.0}
    manifest = with_fit(tiny_model, fit).manifest
    assert resolve(RestoreSettings(), manifest).band_level == BandLevelFit(0.75, 1.8, -8.0)
    assert resolve(RestoreSettings(band_level="power"), manifest).band_level is None
    assert resolve(RestoreSettings(low_band="off"), manifest).band_level is None  # the model's output as it is
    assert resolve(RestoreSettings(), tiny_model.manifest).band_level is None
    with pytest.raises(SettingsError, match="ships no band level fit"):
        resolve(RestoreSettings(band_level="matched"), tiny_model.manifest)
    with pytest.raises(SettingsError, match="needs low_band 'keep'"):
        resolve(RestoreSettings(band_level="matched", low_band="replace"), manifest)
    with pytest.raises(SettingsError, match="band_level must be"):
        resolve(RestoreSettings(band_level="loud"), manifest)  # type: ignore[arg-type]


# --- the restoration -----------------------------------------------------------------------------------------
def test_only_the_band_above_the_edge_changes_and_by_the_gain(tiny_model: ss.SagaSRModel) -> None:
    x = band_limited_noise(3 * SR, 6000.0, seed=3)
    as_predicted = ss.restore(x, SR, tiny_model)
    constant = {"slope": 0.0, "intercept_db": -6.0, "floor_db": -8.0}  # -6 dB whatever the octave below
    quieter = ss.restore(x, SR, with_fit(tiny_model, constant))
    f = np.fft.rfftfreq(x.size, 1 / SR)
    below, above = f < 5000.0, f > 9000.0
    change = np.abs(np.fft.rfft(quieter - as_predicted)) ** 2
    assert change[below].sum() < 1e-4 * change[above].sum()  # the input's band is the input's in both
    spectrum = {name: np.abs(np.fft.rfft(y)) ** 2 for name, y in (("pred", as_predicted), ("quiet", quieter))}
    assert 10 * np.log10(spectrum["quiet"][above].sum() / spectrum["pred"][above].sum()) == pytest.approx(-6.0, abs=0.3)
    unity = {"slope": 0.0, "intercept_db": 0.0, "floor_db": -8.0}
    assert np.array_equal(ss.restore(x, SR, with_fit(tiny_model, unity)), as_predicted)


def test_matched_results_do_not_depend_on_the_batch_size(tiny_model: ss.SagaSRModel) -> None:
    model = with_fit(tiny_model, {"slope": 0.75, "intercept_db": 1.8, "floor_db": -8.0})
    x = ss.degradation.resample_through(0.05 * harmonic_tone(3.0), SR, 16000.0).astype(np.float32)
    one = ss.restore(x, SR, model, RestoreSettings(batch_size=1))
    assert not np.array_equal(one, ss.restore(x, SR, model, RestoreSettings(batch_size=1, band_level="power")))
    assert np.array_equal(one, ss.restore(x, SR, model, RestoreSettings(batch_size=3)))


def test_a_stream_with_matched_level_equals_the_offline_result_for_any_block_size(tiny_model: ss.SagaSRModel) -> None:
    from .test_stream import assert_streams_as_offline

    model = with_fit(tiny_model, {"slope": 0.75, "intercept_db": 1.8, "floor_db": -8.0})
    settings = RestoreSettings(overlap=2048)
    x = ss.degradation.resample_through(0.05 * harmonic_tone(0.7), SR, 16000.0).astype(np.float32)
    assert_streams_as_offline(model, settings, x, band_level="power")
