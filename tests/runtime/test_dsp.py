import numpy as np
import pytest
import scipy.fft
from scipy import signal

from sagasr_stream import degradation, dsp


def reference_rolloff_bin(x: np.ndarray, percentile: float = 0.985) -> int:
    """Straightforward loop: librosa-style centred STFT, then the first bin reaching the percentile."""
    n_fft, hop = 2048, 512
    padded = np.pad(x.astype(np.float64), n_fft // 2)
    window = signal.get_window("hann", n_fft)
    totals = np.zeros(n_fft // 2 + 1)
    for start in range(0, len(padded) - n_fft + 1, hop):
        totals += np.abs(np.fft.rfft(padded[start : start + n_fft] * window))
    running = 0.0
    for k, value in enumerate(totals):
        running += value
        if running >= percentile * totals.sum():
            return k
    raise AssertionError("unreachable")


@pytest.mark.parametrize("cutoff", [3000.0, 8000.0, 14000.0])
def test_rolloff_matches_reference_loop(cutoff):
    x = degradation.band_limit(np.random.default_rng(0).standard_normal(30000), 44100, degradation.LowPassSpec("ellip", 8, cutoff), resample=False)
    assert dsp.rolloff_bin(x) == reference_rolloff_bin(x)
    hz = dsp.ratio_to_hz(dsp.rolloff_ratio(x))
    assert 0.8 * cutoff < hz < 1.02 * cutoff


def test_rolloff_of_a_batch_is_each_signals_own():
    """rolloff_bin takes a batch (..., samples) signal by signal: each result is that signal's alone, silence 0."""
    rng = np.random.default_rng(3)
    batch = rng.standard_normal((2, 3, 5000)) * np.linspace(0.1, 2.0, 5000)
    batch[1, 2] = 0.0
    batch[0, 1] = degradation.band_limit(batch[0, 1], 44100, degradation.LowPassSpec("butter", 6, 5000.0), resample=False)
    got = dsp.rolloff_bin(batch.astype(np.float32))
    assert got.shape == (2, 3) and got[1, 2] == 0
    for index in np.ndindex(2, 3):
        assert got[index] == dsp.rolloff_bin(batch[index].astype(np.float32)) == reference_rolloff_bin(batch[index].astype(np.float32))
    assert dsp.rolloff_bin(batch[0, 1][None]).shape == (1,)


def test_rolloff_of_a_sine_is_its_frequency_and_silence_is_zero():
    t = np.arange(44100) / 44100
    ratio = dsp.rolloff_ratio(np.sin(2 * np.pi * 5000 * t))
    # magnitude (not power) roll-off: Hann leakage puts 98.5 % a little above the tone
    assert 5000 < dsp.ratio_to_hz(ratio) < 5600
    assert dsp.rolloff_ratio(np.zeros(10000)) == 0
    batch = dsp.rolloff_ratio(np.stack([np.sin(2 * np.pi * 1000 * t), np.sin(2 * np.pi * 9000 * t)]))
    assert batch.shape == (2,) and batch[0] < batch[1]


@pytest.mark.parametrize("length", [1, 511, 2048, 10001])
def test_stft_istft_reconstructs(length):
    x = np.random.default_rng(length).standard_normal((2, length))
    np.testing.assert_allclose(dsp.istft(dsp.stft(x), length), x, atol=1e-10)


def test_band_limit_removes_the_top_band_for_every_family():
    x = np.random.default_rng(1).standard_normal(44100)
    for family in degradation.FILTER_FAMILIES:
        y = degradation.band_limit(x, 44100, degradation.LowPassSpec(family, 8, 4000.0))
        assert y.shape == x.shape and y.dtype == np.float32
        f, p = signal.welch(y, 44100, nperseg=4096)
        assert p[f > 6000].mean() < 1e-3 * p[f < 2000].mean(), family


def test_draw_lowpass_respects_ranges():
    rng = np.random.default_rng(0)
    specs = [degradation.draw_lowpass(rng) for _ in range(300)]
    assert {s.family for s in specs} == set(degradation.FILTER_FAMILIES)
    assert all(2 <= s.order <= 10 and 2000 <= s.cutoff_hz <= 16000 for s in specs)


def test_design_lowpass_rejects_bad_specs():
    with pytest.raises(ValueError, match="family"):
        degradation.design_lowpass(degradation.LowPassSpec("cheby2", 4, 4000), 44100)
    with pytest.raises(ValueError, match="order"):
        degradation.design_lowpass(degradation.LowPassSpec("butter", 12, 4000), 44100)
    with pytest.raises(ValueError, match="cutoff"):
        degradation.design_lowpass(degradation.LowPassSpec("butter", 4, 30000), 44100)


def test_merge_low_band_keep_is_exact_below_cutoff_and_model_above():
    rng = np.random.default_rng(2)
    lr = degradation.band_limit(rng.standard_normal((1, 16384)), 44100, degradation.LowPassSpec("cheby1", 8, 5000))
    model = rng.standard_normal((1, 16384)).astype(np.float32) * 0.1
    merged = dsp.merge_low_band(model, lr, "keep")
    # identity model: exact input back
    np.testing.assert_allclose(dsp.merge_low_band(lr, lr, "keep"), lr, atol=1e-6)
    cutoff = dsp.band_edge_bin(lr)[0]
    assert abs(cutoff * 44100 / 2048 - 5000) < 400
    spec_m, spec_in, spec_model = dsp.stft(merged), dsp.stft(lr), dsp.stft(model)
    inner = slice(4, -4)  # away from the edges, where overlap-add mixes neighbouring frames
    np.testing.assert_allclose(spec_m[0, : cutoff - 3, inner], spec_in[0, : cutoff - 3, inner], rtol=1e-2, atol=1e-2)
    high = np.abs(spec_m[0, cutoff + 8 :, inner]).mean() / np.abs(spec_model[0, cutoff + 8 :, inner]).mean()
    assert 0.9 < high < 1.1
    assert np.array_equal(dsp.merge_low_band(model, lr, "off"), model)


def test_merge_low_band_replace_scales_within_official_clip():
    rng = np.random.default_rng(3)
    lr = degradation.band_limit(rng.standard_normal((1, 16384)), 44100, degradation.LowPassSpec("butter", 8, 5000), resample=False)
    loud = dsp.merge_low_band(3 * lr, lr, "replace")  # output 3x louder at the cutoff: ratio clipped to 0.8
    ratio = np.std(loud) / np.std(lr)
    assert 1.2 < ratio < 1.3  # low band divided by 0.8 = 1.25 x
    with pytest.raises(ValueError, match="low-band mode"):
        dsp.merge_low_band(lr, lr, "bogus")  # type: ignore[arg-type]


def test_hz_to_ratio_validates():
    assert dsp.hz_to_ratio(11025, 44100) == 0.5
    with pytest.raises(ValueError, match="roll-off"):
        dsp.hz_to_ratio(30000, 44100)


def test_peak_gain():
    x = np.array([[0.0, 0.25, -0.1], [0.0, 0.0, 0.0]], dtype=np.float32)
    np.testing.assert_allclose(dsp.peak_gain(x, 0.5), [2.0, 1.0])


def test_a_lone_tone_is_not_a_band_edge_and_silence_is_zero():
    rng = np.random.default_rng(4)
    t = np.arange(16384) / 44100
    x = np.sin(2 * np.pi * 440 * t + 1.0) + 1e-6 * rng.standard_normal(t.size)  # cut mid-cycle, -120 dB floor
    assert dsp.ratio_to_hz(dsp.rolloff_ratio(x)) > 5000  # the conditioning roll-off is pulled up
    assert dsp.band_edge_hz(x) == 22050  # a lone tone over a flat floor has no cut: nothing is missing
    assert dsp.band_edge_bin(np.zeros(4096)) == 0


def test_crossover_weights_keep_the_input_up_to_the_edge_then_blend():
    w = dsp.crossover_weights(100, 1025, blend=4)
    assert np.all(w[:101] == 1.0) and np.all(w[105:] == 0.0)
    assert np.all(np.diff(w[100:106]) < 0)


def test_a_shared_stft_gives_the_same_band_edges_and_merge():
    """The engine and the stereo stage analyse each window once (dsp.float64_stft) for both the band edge and the
    low-band merge: the results are those of analysing it twice, bit for bit."""
    from sagasr_stream.degradation import resample_through
    from sagasr_stream.dsp import band_edge_bin, float64_stft, merge_low_band

    rng = np.random.default_rng(3)
    original = resample_through(rng.standard_normal((3, 20000)) * 0.2, 44100, 16000).astype(np.float32)
    restored = (original + 0.05 * rng.standard_normal(original.shape)).astype(np.float32)
    spec = float64_stft(original)
    edges = band_edge_bin(original)
    assert np.array_equal(band_edge_bin(original, spec=spec), edges)
    for mode in ("keep", "replace"):
        assert np.array_equal(merge_low_band(restored, original, mode, edges, spec),
                              merge_low_band(restored, original, mode, edges))


def test_overlap_add_by_slabs_is_the_frame_by_frame_sum():
    """istft's overlap-add adds a hop-wide slab of every frame at once; the floats are those of adding the
    frames one by one in order (and a hop that does not divide the frame takes the frame loop)."""
    from sagasr_stream.dsp import _overlap_add

    rng = np.random.default_rng(5)
    for shape, hop in (((40, 2048), 512), ((2, 3, 17, 1024), 256), ((9, 512), 200), ((1, 2048), 512)):
        frames = rng.standard_normal(shape)
        n_frames, n_fft = shape[-2:]
        want = np.zeros(shape[:-2] + (n_fft + hop * (n_frames - 1),))
        for i in range(n_frames):
            want[..., i * hop : i * hop + n_fft] += frames[..., i, :]
        assert np.array_equal(_overlap_add(frames, hop), want), (shape, hop)


def test_istft_in_place_steps_give_the_plain_expressions_floats():
    """istft windows and normalises its frames in place with cached windows; the floats must be those of the plain
    out-of-place expressions with fresh windows, for every input type (a complex64 spectrum in double precision
    must not be windowed in float32), and the cached windows must not be writable."""
    from sagasr_stream.dsp import _overlap_add, _overlap_norm

    rng = np.random.default_rng(7)
    length = 9000
    window = signal.get_window("hann", 2048, fftbins=True)
    for single, dtype in ((False, np.complex128), (False, np.complex64), (True, np.complex128), (True, np.complex64)):
        spec = dsp.stft(rng.standard_normal(length)).astype(dtype)
        if single:
            frames = scipy.fft.irfft(np.swapaxes(spec.astype(np.complex64), -1, -2), n=2048, axis=-1) * window.astype(np.float32)
        else:
            frames = np.fft.irfft(np.swapaxes(spec, -1, -2), n=2048, axis=-1) * window
        want = (_overlap_add(frames, 512) / _overlap_norm(2048, 512, frames.shape[-2]).astype(frames.dtype))[1024 : 1024 + length]
        for _ in range(2):  # the second call reads the cached windows
            got = dsp.istft(spec, length, single=single)
            assert got.dtype == want.dtype and np.array_equal(got, want), (single, dtype)
    assert np.array_equal(dsp._hann(2048), window) and not dsp._hann(2048).flags.writeable
    assert not dsp._hann32(2048).flags.writeable


def test_merge_of_restored_spectra_is_the_merge_of_their_samples():
    """``merge_low_band(None, ..., restored_spec=S)`` merges STFT frames as they are: for the STFT of samples it
    is the samples' merge, bit for bit; giving both or neither is an error."""
    from sagasr_stream.degradation import resample_through
    from sagasr_stream.dsp import band_edge_bin, float64_stft, merge_low_band
    from sagasr_stream.errors import ParameterError

    rng = np.random.default_rng(4)
    original = resample_through(rng.standard_normal((2, 20000)) * 0.2, 44100, 16000).astype(np.float32)
    restored = (original + 0.05 * rng.standard_normal(original.shape)).astype(np.float32)
    edges = band_edge_bin(original)
    for mode in ("keep", "replace", "off"):
        from_spectra = merge_low_band(None, original, mode, edges, restored_spec=float64_stft(restored))
        from_samples = merge_low_band(restored, original, mode, edges)
        if mode == "off":  # the samples as they are, against their STFT's inverse
            np.testing.assert_allclose(from_spectra, from_samples, atol=1e-6)
        else:
            assert np.array_equal(from_spectra, from_samples), mode
    for restored_arg, spec in ((None, None), (restored, float64_stft(restored))):
        with pytest.raises(ParameterError, match="exactly one of the two"):
            merge_low_band(restored_arg, original, "keep", edges, restored_spec=spec)


def test_slice_statistics_are_numpys():
    """The band-edge search's medians and upper quartiles of many slices at once are numpy's median and 75th
    percentile of each slice, bit for bit (ties and one-long slices included)."""
    from sagasr_stream.dsp import _slice_medians, _slice_upper_quartiles

    rng = np.random.default_rng(6)
    for values in (rng.standard_normal(400) * 20, np.round(rng.standard_normal(400) * 3)):  # the second has ties
        starts = rng.integers(0, 350, 300)
        stops = np.minimum(starts + rng.integers(1, 60, 300), values.size)
        slices = [values[a:b] for a, b in zip(starts, stops)]
        assert np.array_equal(_slice_medians(values, starts, stops), np.array([np.median(v) for v in slices]))
        assert np.array_equal(_slice_upper_quartiles(values, starts, stops), np.array([np.percentile(v, 75) for v in slices]))
    assert _slice_medians(values, starts[:0], stops[:0]).shape == (0,)
