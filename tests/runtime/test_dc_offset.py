"""A DC offset (an old transfer's, a cheap converter's) is no part of the band: the model sees each window without
its mean, and the output keeps the input's offset below the band edge."""
from __future__ import annotations

import numpy as np
import pytest

import sagasr_stream as ss

from ..conftest import band_limited_noise

SR = 44100
OFFSET = 0.125  # exactly representable, so that x + OFFSET - OFFSET is x on a 16-bit grid


def on_16_bit_grid(x: np.ndarray) -> np.ndarray:
    return (np.round(x * 32768) / 32768).astype(np.float32)


def model_inputs(model: ss.SagaSRModel, x: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> list[np.ndarray]:
    """What the model's encoder was given while ``x`` was restored."""
    seen: list[np.ndarray] = []
    encode = model.backend.encode

    def spy(audio: np.ndarray) -> np.ndarray:
        seen.append(audio.copy())
        return encode(audio)

    monkeypatch.setattr(model.backend, "encode", spy)
    ss.restore(x, SR, model)
    monkeypatch.undo()
    return seen


def test_the_model_sees_the_same_windows_at_any_offset(tiny_model: ss.SagaSRModel,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    x = on_16_bit_grid(band_limited_noise(SR, 6000.0, seed=11))
    plain = model_inputs(tiny_model, x, monkeypatch)
    shifted = model_inputs(tiny_model, x + np.float32(OFFSET), monkeypatch)
    assert len(plain) == len(shifted) > 0
    for a, b in zip(plain, shifted):
        np.testing.assert_array_equal(a, b)


def test_the_output_is_the_restored_signal_at_the_input_s_offset(tiny_model: ss.SagaSRModel) -> None:
    x = on_16_bit_grid(band_limited_noise(SR, 6000.0, seed=12))
    plain = ss.restore(x, SR, tiny_model)
    shifted = ss.restore(x + np.float32(OFFSET), SR, tiny_model)
    np.testing.assert_allclose(shifted - np.float32(OFFSET), plain, atol=1e-6)  # the band too, whatever the offset


@pytest.mark.parametrize("mode", ["linked", "mid-side"])  # "mono" writes the downmix, offset and all, to both
def test_a_stereo_pair_gets_the_same_band_at_any_offset(tiny_model: ss.SagaSRModel, mode: str) -> None:
    """Per-channel offsets, as a stereo transfer has: the linked pair's band (its mid or side chosen by their
    levels without the offsets, related to the other through the octave below the edge, merged channel by channel)
    is the same (before: -37 dB apart on the default model)."""
    left = band_limited_noise(SR, 6000.0, seed=13)
    pair = on_16_bit_grid(np.stack([left, 0.6 * left + 0.4 * band_limited_noise(SR, 6000.0, seed=14)]))
    offsets = np.array([[OFFSET], [-OFFSET / 2]], dtype=np.float32)
    settings = ss.RestoreSettings(stereo=mode)
    plain = ss.restore(pair, SR, tiny_model, settings, layout="channels_first")
    shifted = ss.restore(pair + offsets, SR, tiny_model, settings, layout="channels_first")
    np.testing.assert_allclose(shifted - offsets, plain, atol=1e-5)


def on_24_bit_grid(x: np.ndarray) -> np.ndarray:
    return (np.round(x * 2.0**23) / 2.0**23).astype(np.float32)


def window_edge_hz(x: np.ndarray) -> float:
    """The band edge one window reads in itself (Hz)."""
    from sagasr_stream import dsp

    power = dsp.interior_power(np.asarray(x, dtype=np.float64))
    return dsp.band_edge_from_power(power) * SR / dsp.N_FFT


@pytest.mark.parametrize("offset", [-0.875, 0.5])
@pytest.mark.parametrize("samples", [65536, 600])  # a window; a clip shorter than one STFT frame
def test_the_band_edge_is_read_the_same_at_any_offset(offset: float, samples: int) -> None:
    """A quiet signal on a large offset (an old transfer's: -0.87 under drums at -36 dB): the offset's bin was the
    loudest, and the level floor set 150 dB under it hid the cut, so the window read as full band and passed
    unrestored."""
    # about -90 dBFS on a 24-bit grid, its cut under the old floor; x + offset exact in float32
    x = on_24_bit_grid(0.00005 * band_limited_noise(samples, 6000.0, seed=15))
    plain = window_edge_hz(x)
    assert 5000.0 < plain < 7500.0
    assert window_edge_hz(x + np.float32(offset)) == plain


def test_the_signal_so_far_reads_the_same_limit_at_any_offset() -> None:
    from sagasr_stream.bandlimit import window_limits
    from sagasr_stream.chunking import WindowPlan

    plan = WindowPlan(65536, 32768)
    x = on_24_bit_grid(0.00005 * band_limited_noise(4 * 65536, 6000.0, seed=16))
    plain = window_limits(x[None], plan)
    shifted = window_limits((x + np.float32(-0.875))[None], plan)
    assert [limit[0].edge_bin for limit in plain[1:]] == [limit[0].edge_bin for limit in shifted[1:]]


@pytest.mark.parametrize("transposed", [False, True])
def test_without_dc_gives_the_plain_expressions_floats(transposed: bool) -> None:
    """without_dc subtracts the offsets' spectra in place where the layouts agree: the floats (and the layout) are
    those of ``spec - offset * dc_spectrum``, whatever the layout of the spectra it is given."""
    from sagasr_stream.dsp import float64_stft
    from sagasr_stream.engine import dc_spectrum, without_dc

    audio = (np.random.default_rng(4).standard_normal((3, 5000)) * 0.1 + OFFSET).astype(np.float32)
    spec = np.stack(list(float64_stft(audio)))
    if transposed:
        spec = np.ascontiguousarray(spec)  # bins-major: another layout than the offsets' spectra
    want_offset = audio.mean(axis=1, keepdims=True, dtype=np.float64)
    want = spec - want_offset[:, :, None] * dc_spectrum(audio.shape[1])
    offset, centred, centred_spec = without_dc(audio, spec)
    assert np.array_equal(offset, want_offset) and np.array_equal(centred, audio - want_offset)
    assert np.array_equal(centred_spec, want) and centred_spec.strides == want.strides


def test_rows_copies_only_a_part() -> None:
    """engine._rows: every row in order is the array itself (no copy of a batch's spectra), a part is a copy."""
    from sagasr_stream.engine import _rows

    array = np.arange(12.0).reshape(4, 3)
    assert _rows(array, np.ones(4, dtype=bool)) is array and _rows(array, [0, 1, 2, 3]) is array
    for rows in (np.array([True, False, True, True]), [0, 2, 3], [1]):
        assert np.array_equal(_rows(array, rows), array[rows]) and _rows(array, rows) is not array
    assert _rows(array, []).shape == (0, 3)
