"""sbr_blend: a share of spectral band replication in the restored band (sagasr_stream.replication)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import sagasr_stream as ss
from sagasr_stream.bundle import Manifest
from sagasr_stream.dsp import N_FFT, float64_stft
from sagasr_stream.errors import BundleError, SettingsError
from sagasr_stream.replication import RATIO_LIMIT_DB, blend_replication, is_share, replicate_band
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


def test_the_blend_is_the_share_of_the_log_magnitude_with_the_model_phase() -> None:
    spec_in, spec_out, edge = spectra()
    blended = spec_out.copy()
    blend_replication(spec_in, blended, edge, 0.25, SR)
    replica = replicate_band(spec_in, edge, SR)
    model = spec_out[edge:]
    ratio_db = 20 * np.log10(np.abs(replica) / np.abs(model))
    inside = np.abs(ratio_db) < RATIO_LIMIT_DB
    expected = np.abs(model) ** 0.75 * np.abs(replica) ** 0.25
    np.testing.assert_allclose(np.abs(blended[edge:])[inside], expected[inside], rtol=1e-9)
    np.testing.assert_allclose(np.angle(blended[edge:]), np.angle(model), atol=1e-9)
    assert np.array_equal(blended[:edge], spec_out[:edge])  # the input's band is the input's


def test_no_bin_moves_by_more_than_the_share_of_the_ratio_limit() -> None:
    spec_in, spec_out, edge = spectra()
    spec_in[:, 10:20] = 0.0                      # digital silence in the input: the replica is empty there
    blended = spec_out.copy()
    blend_replication(spec_in, blended, edge, 0.3, SR)
    change_db = 20 * np.log10(np.abs(blended[edge:]) / np.abs(spec_out[edge:]))
    assert np.abs(change_db).max() == pytest.approx(0.3 * RATIO_LIMIT_DB)


def test_share_zero_or_no_octave_below_changes_nothing() -> None:
    spec_in, spec_out, edge = spectra()
    for share, at in ((0.0, edge), (0.5, 1)):
        untouched = spec_out.copy()
        blend_replication(spec_in, untouched, at, share, SR)
        assert np.array_equal(untouched, spec_out)


@pytest.mark.parametrize("value, ok", [(0, True), (0.25, True), (1.0, True), (1.5, False), (-0.1, False),
                                       (float("nan"), False), (True, False), ("0.3", False)])
def test_a_share_is_a_number_from_0_to_1(value: object, ok: bool) -> None:
    assert is_share(value) is ok


# --- the settings --------------------------------------------------------------------------------------------
def test_the_bundle_default_applies_with_keep_only(tiny_model: ss.SagaSRModel) -> None:
    manifest = with_defaults(tiny_model, sbr_blend=0.25).manifest
    assert resolve(RestoreSettings(), manifest).sbr_blend == 0.25
    assert resolve(RestoreSettings(sbr_blend=0.5), manifest).sbr_blend == 0.5
    assert resolve(RestoreSettings(sbr_blend="off"), manifest).sbr_blend is None
    assert resolve(RestoreSettings(sbr_blend=0), manifest).sbr_blend is None
    assert resolve(RestoreSettings(low_band="replace"), manifest).sbr_blend is None
    assert resolve(RestoreSettings(), tiny_model.manifest).sbr_blend is None


@pytest.mark.parametrize("value", [1.5, -0.2, float("nan"), True, "half"])
def test_a_bad_share_is_refused(tiny_model: ss.SagaSRModel, value: object) -> None:
    with pytest.raises(SettingsError, match="sbr_blend must be a share in \\[0, 1\\] or 'off'"):
        resolve(RestoreSettings(sbr_blend=value), tiny_model.manifest)  # type: ignore[arg-type]


def test_a_blend_needs_keep(tiny_model: ss.SagaSRModel) -> None:
    with pytest.raises(SettingsError, match="sbr_blend needs low_band 'keep', got 'off'"):
        resolve(RestoreSettings(sbr_blend=0.25, low_band="off"), tiny_model.manifest)


@pytest.mark.parametrize("bad", [1.2, "0.25", float("inf")])
def test_a_manifest_with_a_bad_share_does_not_load(tiny_model: ss.SagaSRModel, bad: object) -> None:
    data = dataclasses.asdict(tiny_model.manifest)
    data["defaults"]["sbr_blend"] = bad
    with pytest.raises(BundleError, match="defaults.sbr_blend must be a share in \\[0, 1\\]"):
        Manifest.from_dict(data)


def test_the_command_line_takes_a_share_or_off() -> None:
    from sagasr_stream.cli.main import build_parser

    parser = build_parser()
    assert parser.parse_args(["restore", "in.wav", "--sbr-blend", "0.3"]).sbr_blend == 0.3
    assert parser.parse_args(["restore", "in.wav", "--sbr-blend", "off"]).sbr_blend == "off"
    with pytest.raises(SystemExit):
        parser.parse_args(["restore", "in.wav", "--sbr-blend", "half"])


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
    from .test_stream import stream_in_blocks

    model = with_defaults(tiny_model, sbr_blend=0.3)
    settings = RestoreSettings(overlap=2048)
    x = pulsed_noise(0.7)
    offline = ss.restore(x, SR, model, settings)
    assert not np.array_equal(offline, ss.restore(x, SR, model, settings.with_(sbr_blend="off")))
    for block in (1, 333, 8192):
        streamed = stream_in_blocks(ss.StreamingRestorer(model, settings), x, iter(lambda: block, None))
        np.testing.assert_allclose(streamed, offline, atol=1e-5)
