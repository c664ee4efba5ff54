"""band_ceiling: the restored band follows the input down into its quiet frames (sagasr_stream.band_ceiling)."""
from __future__ import annotations

import numpy as np
import pytest

import sagasr_stream as ss
from sagasr_stream.band_ceiling import ceiling_gains_db, hold_quiet_frames, is_margin_db
from sagasr_stream.dsp import N_FFT, float64_stft
from sagasr_stream.errors import SettingsError
from sagasr_stream.settings import RestoreSettings, resolve

from ..conftest import band_limited_noise, with_defaults

SR = 44100


def db(power: np.ndarray) -> np.ndarray:
    return 10 * np.log10(power + 1e-30)


# --- the gains -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value, ok", [(0, True), (6.0, True), (-0.5, False), (float("nan"), False), (True, False),
                                       ("3", False), (np.float32(6.0), True), (np.float64(-1.0), False)])
def test_a_margin_is_a_number_of_db_from_0(value: object, ok: bool) -> None:
    assert is_margin_db(value) is ok  # a Python bool, numpy scalars included


def test_a_steady_ratio_is_left_alone() -> None:
    below = np.array([1.0, 0.5, 2.0, 0.01])
    assert np.array_equal(ceiling_gains_db(below, 0.1 * below, 10.0), np.zeros(4))


def test_a_band_that_stays_up_while_the_octave_below_falls_is_lowered_to_the_margin() -> None:
    below = np.array([1.0, 1.0, 1.0, 1e-4])   # the input falls 40 dB in the last frame
    above = np.full(4, 0.1)                   # the restored band does not
    gains = ceiling_gains_db(below, above, 10.0)
    assert gains[:3] == pytest.approx([0.0, 0.0, 0.0])
    assert gains[3] == pytest.approx(-30.0)   # 40 dB above the ratio of the loud frames, 10 allowed
    assert ceiling_gains_db(below, above, 50.0)[3] == 0.0


def test_a_loud_frame_is_left_to_the_model_whatever_its_ratio() -> None:
    below = np.array([1.0, 1.0, 1.0, 0.01])   # 20 dB down: still within the loud range
    above = np.array([0.1, 0.1, 0.1, 10.0])   # a band 40 dB above the others' ratio
    assert np.array_equal(ceiling_gains_db(below, above, 10.0), np.zeros(4))


def test_a_single_click_does_not_make_the_rest_of_the_window_quiet() -> None:
    below = np.ones(40)
    below[0] = 1e5                            # 50 dB above the rest: one frame, above the loud level's percentile
    assert np.array_equal(ceiling_gains_db(below, np.full(40, 0.1), 10.0), np.zeros(40))


def test_the_reference_is_the_loud_frames_median_so_a_mostly_quiet_window_is_still_caught() -> None:
    below = np.array([1.0, 1.0] + [1e-5] * 6)  # six of eight frames 50 dB down
    above = np.full(8, 0.1)
    assert ceiling_gains_db(below, above, 10.0)[2:] == pytest.approx(np.full(6, -40.0))


def test_digital_silence_below_silences_the_band() -> None:
    gains = ceiling_gains_db(np.array([1.0, 1.0, 0.0]), np.full(3, 0.1), 10.0)
    assert gains[2] < -150.0


def test_padding_frames_do_not_set_the_reference() -> None:
    below = np.array([1.0, 1.0, 1.0, 1e-12, 1e-12])
    above = np.array([0.1, 0.1, 0.1, 1.0, 1.0])  # the padding's frames: a ratio far above the signal's
    with_padding = ceiling_gains_db(below, above, 10.0)
    signal_only = ceiling_gains_db(below, above, 10.0, counted=3)
    assert signal_only[:3] == pytest.approx(np.zeros(3))
    assert np.array_equal(with_padding[:3], signal_only[:3])  # three of five loud frames: the median is theirs
    assert ceiling_gains_db(below[:4], above[:4], 10.0, counted=2)[3] == pytest.approx(10 * np.log10(1e-12 / 10) + 10.0)


def test_only_the_bins_from_the_edge_up_change() -> None:
    x = band_limited_noise(SR, 8000.0, seed=1).astype(np.float64)
    x[SR // 2 :] *= 1e-3
    noise = np.random.default_rng(2).standard_normal(SR) * 0.01
    spec_in, spec_out = float64_stft(x), float64_stft(x + noise)
    edge = int(7000 / (SR / N_FFT))
    held = spec_out.copy()
    hold_quiet_frames(spec_in, held, edge, 10.0)
    assert np.array_equal(held[:edge], spec_out[:edge])
    late = slice(spec_in.shape[-1] // 2 + 4, None)
    assert np.all(np.abs(held[edge:, late]) <= np.abs(spec_out[edge:, late]))
    assert (np.abs(held[edge:, late]) ** 2).sum() < 0.01 * (np.abs(spec_out[edge:, late]) ** 2).sum()
    untouched = spec_out.copy()
    hold_quiet_frames(spec_in, untouched, 1, 10.0)  # no octave below the edge
    assert np.array_equal(untouched, spec_out)


# --- the settings --------------------------------------------------------------------------------------------
def test_the_bundle_default_applies_with_keep_only(tiny_model: ss.SagaSRModel) -> None:
    manifest = with_defaults(tiny_model, band_ceiling_db=10.0).manifest
    assert resolve(RestoreSettings(), manifest).band_ceiling_db == 10.0
    assert resolve(RestoreSettings(band_ceiling=6), manifest).band_ceiling_db == 6.0
    assert resolve(RestoreSettings(band_ceiling="off"), manifest).band_ceiling_db is None
    assert resolve(RestoreSettings(low_band="off"), manifest).band_ceiling_db is None
    assert resolve(RestoreSettings(), tiny_model.manifest).band_ceiling_db is None
    assert resolve(RestoreSettings(band_ceiling=12.0), tiny_model.manifest).band_ceiling_db == 12.0


@pytest.mark.parametrize("value, message", [
    (-1.0, "band_ceiling must be a level in dB >= 0 or 'off'"),
    (float("inf"), "band_ceiling must be"),
    (True, "band_ceiling must be"),
    ("loud", "band_ceiling must be"),
])
def test_a_bad_ceiling_is_refused(tiny_model: ss.SagaSRModel, value: object, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        resolve(RestoreSettings(band_ceiling=value), tiny_model.manifest)  # type: ignore[arg-type]


def test_a_ceiling_needs_keep(tiny_model: ss.SagaSRModel) -> None:
    with pytest.raises(SettingsError, match="band_ceiling needs low_band 'keep', got 'replace'"):
        resolve(RestoreSettings(band_ceiling=10.0, low_band="replace"), tiny_model.manifest)


# --- the restoration -----------------------------------------------------------------------------------------
GATE = 8192  # samples: the gate's period is two of the tiny model's windows, so each window holds both


def gated_noise(seconds: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """Band-limited noise (6 kHz) 50 dB down in every other block of :data:`GATE` samples, and the mask of
    those samples: quiet stretches that the band should follow into."""
    x = band_limited_noise(int(seconds * SR), 6000.0, seed=4)
    quiet = (np.arange(x.size) // GATE) % 2 == 1
    x[quiet] *= 10 ** (-50 / 20)
    return x, quiet


def band_db_per_frame(y: np.ndarray, low_hz: float, high_hz: float) -> np.ndarray:
    f = np.fft.rfftfreq(N_FFT, 1 / SR)
    return db((np.abs(float64_stft(y.astype(np.float64))[(f >= low_hz) & (f < high_hz)]) ** 2).sum(axis=0))


def test_the_restored_band_follows_the_input_into_quiet_stretches(tiny_model: ss.SagaSRModel) -> None:
    x, quiet = gated_noise()
    free = ss.restore(x, SR, tiny_model, RestoreSettings(band_ceiling="off"))
    capped = ss.restore(x, SR, tiny_model, RestoreSettings(band_ceiling=10.0))
    below_free, below_capped = band_db_per_frame(free, 3000.0, 5500.0), band_db_per_frame(capped, 3000.0, 5500.0)
    np.testing.assert_allclose(below_capped, below_free, atol=0.01)  # the input's band is the input's
    above_free, above_capped = band_db_per_frame(free, 8000.0, 20000.0), band_db_per_frame(capped, 8000.0, 20000.0)
    in_quiet = quiet[np.minimum(np.arange(above_free.size) * 512, x.size - 1)]
    fall = {name: np.median(band[in_quiet]) - np.median(band[~in_quiet])
            for name, band in (("below", below_free), ("free", above_free), ("capped", above_capped))}
    assert fall["below"] < -45.0
    assert fall["free"] > -5.0                      # this model's band stays up where the input falls ...
    assert fall["capped"] < fall["below"] + 10.0 + 2.0  # ... the ceiling's follows it, to the margin (and the smear)
    assert np.median(np.abs(above_capped[~in_quiet] - above_free[~in_quiet])) < 0.5  # the loud stretches as they were


def test_a_ceiling_that_never_binds_changes_nothing(tiny_model: ss.SagaSRModel) -> None:
    x, _ = gated_noise()
    free = ss.restore(x, SR, tiny_model, RestoreSettings(band_ceiling="off"))
    assert np.array_equal(ss.restore(x, SR, tiny_model, RestoreSettings(band_ceiling=500.0)), free)


def test_results_do_not_depend_on_the_batch_size(tiny_model: ss.SagaSRModel) -> None:
    x, _ = gated_noise()
    one = ss.restore(x, SR, tiny_model, RestoreSettings(batch_size=1, band_ceiling=10.0))
    assert np.array_equal(one, ss.restore(x, SR, tiny_model, RestoreSettings(batch_size=3, band_ceiling=10.0)))


def test_a_stream_with_a_ceiling_equals_the_offline_result_for_any_block_size(tiny_model: ss.SagaSRModel) -> None:
    from .test_stream import assert_streams_as_offline

    model = with_defaults(tiny_model, band_ceiling_db=10.0)
    settings = RestoreSettings(overlap=2048)
    x, _ = gated_noise(0.7)
    assert_streams_as_offline(model, settings, x, band_ceiling="off")
