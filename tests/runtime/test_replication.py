"""sbr_blend: a share of spectral band replication in the restored band (sagasr_stream.replication)."""
from __future__ import annotations

import numpy as np
import pytest

import sagasr_stream as ss
from sagasr_stream.dsp import N_FFT, float64_stft
from sagasr_stream.errors import SettingsError
from sagasr_stream.replication import RATIO_LIMIT_DB, blend_replication, is_share, replicate_band, third_octave_bands
from sagasr_stream.settings import RestoreSettings, resolve

from ..conftest import band_limited_noise, with_defaults

SR = 44100
BIN_HZ = SR / N_FFT


# --- the replica ---------------------------------------------------------------------------------------------
def test_a_partial_below_the_edge_is_copied_up_patch_after_patch() -> None:
    edge = 400                                   # 8.6 kHz
    spec = np.zeros((N_FFT // 2 + 1, 5), complex)
    spec[300] = 1.0                              # one partial in the octave below the edge
    spec[100:388] += 1e-6                        # a faint floor to fit the slope on
    replica = replicate_band(spec, edge, SR)
    assert replica.shape == (N_FFT // 2 + 1 - edge, 5)
    src_lo, src_hi = int(0.97 * edge) // 2, int(0.97 * edge)
    peaks = np.flatnonzero(np.abs(replica[:, 0]) > 0.1) + edge
    width = src_hi - src_lo
    assert list(peaks) == [k for k in range(edge, N_FFT // 2 + 1) if (k - edge) % width == 300 - src_lo]
    assert np.all(np.abs(replica[peaks - edge, 0]) <= 1.0)  # scaled by a falling slope, never raised


def test_no_band_above_gives_no_replica() -> None:
    assert replicate_band(np.ones((N_FFT // 2 + 1, 3), complex), N_FFT // 2 + 1, SR) is None


# --- the blend -----------------------------------------------------------------------------------------------
def spectra(seed: int = 1) -> tuple[np.ndarray, np.ndarray, int]:
    x = band_limited_noise(SR, 8000.0, seed=seed).astype(np.float64)
    out = x + np.random.default_rng(seed + 1).standard_normal(SR) * 0.01
    return float64_stft(x), float64_stft(out), int(8000 / BIN_HZ)


def log_change(blended: np.ndarray, before: np.ndarray) -> np.ndarray:
    return np.log(np.abs(blended) / np.abs(before))


def test_the_blend_keeps_the_model_level_per_third_octave_and_phase_and_the_input_band() -> None:
    spec_in, spec_out, edge = spectra()
    blended = spec_out.copy()
    blend_replication(spec_in, blended, edge, 0.25, SR)
    change = log_change(blended[edge:], spec_out[edge:])
    for lo, hi in third_octave_bands(edge, spec_out.shape[0]):
        assert np.median(change[lo - edge : hi - edge]) == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(np.angle(blended[edge:]), np.angle(spec_out[edge:]), atol=1e-9)
    assert np.array_equal(blended[:edge], spec_out[:edge])  # the input's band is the input's


def test_the_blend_takes_the_replica_pattern_not_its_level() -> None:
    spec_in, spec_out, edge = spectra()
    blended, from_louder = spec_out.copy(), spec_out.copy()
    blend_replication(spec_in, blended, edge, 0.25, SR)
    blend_replication(3.0 * spec_in, from_louder, edge, 0.25, SR)  # a replica 9.5 dB too loud
    replica_db = np.log(np.abs(replicate_band(spec_in, edge, SR)))
    ratio_db = 20 * (replica_db - np.log(np.abs(spec_out[edge:]))) / np.log(10)
    unclipped = np.abs(ratio_db) < RATIO_LIMIT_DB - 10  # the 40 dB clip binds elsewhere, on one side of the two
    assert unclipped.mean() > 0.9
    np.testing.assert_allclose(np.abs(from_louder[edge:])[unclipped], np.abs(blended[edge:])[unclipped], rtol=1e-6)
    assert (np.corrcoef(np.log(np.abs(blended[edge:])).ravel(), replica_db.ravel())[0, 1]
            > np.corrcoef(np.log(np.abs(spec_out[edge:])).ravel(), replica_db.ravel())[0, 1] + 0.1)


@pytest.mark.parametrize("limit_db", [3.0, 6.0, 60.0])
def test_the_level_pull_is_the_share_of_the_replica_level_difference_within_the_limit(limit_db: float) -> None:
    spec_in, spec_out, edge = spectra()
    spec_in[:, ::2] *= 0.1                        # a replica whose level differs from band to band and frame to frame
    pattern_only, pulled = spec_out.copy(), spec_out.copy()
    blend_replication(spec_in, pattern_only, edge, 0.5, SR)
    blend_replication(spec_in, pulled, edge, 0.5, SR, level_limit_db=limit_db)
    ratio_db = np.clip(20 * np.log10(np.abs(replicate_band(spec_in, edge, SR)) / np.abs(spec_out[edge:])),
                       -RATIO_LIMIT_DB, RATIO_LIMIT_DB)
    pull_db = 20 * np.log10(np.abs(pulled[edge:]) / np.abs(pattern_only[edge:]))
    for lo, hi in third_octave_bands(edge, spec_out.shape[0]):
        level_db = np.median(ratio_db[lo - edge : hi - edge])
        np.testing.assert_allclose(pull_db[lo - edge : hi - edge], 0.5 * np.clip(level_db, -limit_db, limit_db),
                                   atol=1e-6)
    np.testing.assert_allclose(np.angle(pulled[edge:]), np.angle(spec_out[edge:]), atol=1e-9)
    assert np.array_equal(pulled[:edge], spec_out[:edge])


def test_no_bin_moves_by_more_than_the_share_of_twice_the_ratio_limit() -> None:
    spec_in, spec_out, edge = spectra()
    spec_in[:, 10:20] = 0.0                      # digital silence in the input: the replica is empty there
    blended = spec_out.copy()
    blend_replication(spec_in, blended, edge, 0.3, SR)
    change_db = 20 * np.log10(np.abs(blended[edge:]) / np.abs(spec_out[edge:]))
    assert np.abs(change_db).max() <= 0.3 * 2 * RATIO_LIMIT_DB + 1e-9
    assert change_db[:, 10:20].max() < -3.0      # the band goes down with the input's silence


def test_third_octave_bands_tile_the_band() -> None:
    bands = third_octave_bands(372, 1025)
    assert bands[0][0] == 372 and bands[-1][1] == 1025
    assert all(hi == lo2 for (_, hi), (lo2, _) in zip(bands[:-1], bands[1:]))
    assert all(hi - lo >= 2 for lo, hi in bands) and len(bands) == 5


def test_share_zero_or_no_octave_below_changes_nothing() -> None:
    spec_in, spec_out, edge = spectra()
    for share, at in ((0.0, edge), (0.5, 1)):
        untouched = spec_out.copy()
        blend_replication(spec_in, untouched, at, share, SR)
        assert np.array_equal(untouched, spec_out)


@pytest.mark.parametrize("value, ok", [(0, True), (0.25, True), (1.0, True), (1.5, False), (-0.1, False),
                                       (float("nan"), False), (True, False), ("0.3", False),
                                       (np.float32(0.5), True), (np.float64(1.5), False)])
def test_a_share_is_a_number_from_0_to_1(value: object, ok: bool) -> None:
    assert is_share(value) is ok


# --- the settings --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [1.5, -0.2, float("nan"), True, "half"])
def test_a_bad_share_is_refused(tiny_model: ss.SagaSRModel, value: object) -> None:
    with pytest.raises(SettingsError, match="sbr_blend must be a share in \\[0, 1\\] or 'off'"):
        resolve(RestoreSettings(sbr_blend=value), tiny_model.manifest)  # type: ignore[arg-type]


def test_the_level_pull_defaults_to_the_bundle_and_off_is_the_pattern_only(tiny_model: ss.SagaSRModel) -> None:
    manifest = with_defaults(tiny_model, sbr_blend=0.25, sbr_level_db=9.0).manifest
    assert resolve(RestoreSettings(), manifest).sbr_level_db == 9.0
    assert resolve(RestoreSettings(sbr_level=3), manifest).sbr_level_db == 3.0
    assert resolve(RestoreSettings(sbr_level="off"), manifest).sbr_level_db == 0.0
    assert resolve(RestoreSettings(sbr_blend="off"), manifest).sbr_level_db == 0.0
    assert resolve(RestoreSettings(), with_defaults(tiny_model, sbr_blend=0.25).manifest).sbr_level_db == 0.0


@pytest.mark.parametrize("value", [-1.0, float("nan"), True, "loud"])
def test_a_bad_level_pull_is_refused(tiny_model: ss.SagaSRModel, value: object) -> None:
    with pytest.raises(SettingsError, match="sbr_level must be a level in dB >= 0 or 'off'"):
        resolve(RestoreSettings(sbr_blend=0.25, sbr_level=value), tiny_model.manifest)  # type: ignore[arg-type]


def test_a_level_pull_without_a_blend_is_refused(tiny_model: ss.SagaSRModel) -> None:
    with pytest.raises(SettingsError, match="sbr_level 6 needs the SBR blend on"):
        resolve(RestoreSettings(sbr_level=6), tiny_model.manifest)


def test_a_blend_needs_keep(tiny_model: ss.SagaSRModel) -> None:
    with pytest.raises(SettingsError, match="sbr_blend needs low_band 'keep', got 'off'"):
        resolve(RestoreSettings(sbr_blend=0.25, low_band="off"), tiny_model.manifest)


# --- the restoration -----------------------------------------------------------------------------------------
def pulsed_noise(seconds: float = 1.0) -> np.ndarray:
    """Band-limited noise (6 kHz) in bursts: 40 ms on, 60 ms off (30 dB down), a rhythm for the band to follow."""
    x = band_limited_noise(int(seconds * SR), 6000.0, seed=5)
    off = (np.arange(x.size) % 4410) >= 1764
    x[off] *= 10 ** (-30 / 20)
    return x


def band_envelope_db(y: np.ndarray, low_hz: float, high_hz: float) -> np.ndarray:
    f = np.fft.rfftfreq(N_FFT, 1 / SR)
    return 10 * np.log10((np.abs(float64_stft(y.astype(np.float64))[(f >= low_hz) & (f < high_hz)]) ** 2).sum(0) + 1e-30)


def test_the_band_takes_on_the_input_rhythm_and_the_input_band_stays(tiny_model: ss.SagaSRModel) -> None:
    x = pulsed_noise()
    plain = ss.restore(x, SR, tiny_model, RestoreSettings(sbr_blend="off"))
    blended = ss.restore(x, SR, tiny_model, RestoreSettings(sbr_blend=0.5))
    inside = slice(2, -3)  # the edge frames of the signal see the band above through their zero padding
    np.testing.assert_allclose(band_envelope_db(blended, 1000.0, 5000.0)[inside],
                               band_envelope_db(plain, 1000.0, 5000.0)[inside], atol=0.01)
    below = band_envelope_db(x, 3000.0, 5500.0)
    corr = {name: np.corrcoef(band_envelope_db(y, 9000.0, 20000.0), below)[0, 1]
            for name, y in (("plain", plain), ("blended", blended))}
    assert corr["blended"] > corr["plain"] + 0.1


def test_results_do_not_depend_on_the_batch_size(tiny_model: ss.SagaSRModel) -> None:
    x = pulsed_noise()
    one = ss.restore(x, SR, tiny_model, RestoreSettings(batch_size=1, sbr_blend=0.3))
    assert np.array_equal(one, ss.restore(x, SR, tiny_model, RestoreSettings(batch_size=3, sbr_blend=0.3)))


def test_a_stream_with_a_blend_equals_the_offline_result_for_any_block_size(tiny_model: ss.SagaSRModel) -> None:
    from .test_stream import assert_streams_as_offline

    model = with_defaults(tiny_model, sbr_blend=0.3)
    settings = RestoreSettings(overlap=2048)
    x = pulsed_noise(0.7)
    assert_streams_as_offline(model, settings, x, sbr_blend="off")


def test_a_stream_with_a_level_pull_equals_the_offline_result_for_any_block_size(tiny_model: ss.SagaSRModel) -> None:
    from .test_stream import assert_streams_as_offline

    model = with_defaults(tiny_model, sbr_blend=0.3, sbr_level_db=9.0)
    assert_streams_as_offline(model, RestoreSettings(overlap=2048), pulsed_noise(0.7), sbr_level="off")
