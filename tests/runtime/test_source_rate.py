"""An input above the model's rate (48 / 96 kHz) is answered at its own rate with the input itself kept: what the
restorer leaves alone comes out bit for bit (no fractional-sample shift from two resamplers, nothing lost above
22.05 kHz), the restored band is added, and block sizes change nothing."""
from __future__ import annotations

import numpy as np
import pytest
from pedalboard.io import AudioFile
from scipy import signal

from sagasr_stream import restore, restore_file
from sagasr_stream.api import restore_pipeline
from sagasr_stream.restorer import Restorer
from sagasr_stream.source_rate import SourceRateRestore
from sagasr_stream.streaming import ResampleStage, Series, exact_length, run_whole


def low_passed(rate: int, seconds: float, cutoff_hz: float, seed: int = 0, channels: int = 2) -> np.ndarray:
    """(channels, n) float32 white noise through an elliptic low-pass at ``cutoff_hz`` (zero-phase), at ``rate``."""
    rng = np.random.default_rng(seed)
    sos = signal.ellip(10, 0.1, 90, cutoff_hz, fs=rate, output="sos")
    return (signal.sosfiltfilt(sos, 0.2 * rng.standard_normal((channels, int(seconds * rate))))).astype(np.float32)


def band_power_db(x: np.ndarray, rate: int, lo_hz: float, hi_hz: float) -> float:
    freqs, power = signal.welch(np.asarray(x, np.float64), rate, nperseg=2048, axis=-1)
    band = (freqs >= lo_hz) & (freqs < hi_hz)
    return float(10 * np.log10(power[..., band].sum() + 1e-30))


@pytest.mark.parametrize("rate", [48000, 96000])
def test_a_full_band_input_above_the_models_rate_comes_back_bit_for_bit(tiny_model, rate):
    x = (0.1 * np.random.default_rng(rate).standard_normal((2, rate))).astype(np.float32)  # content up to rate / 2
    out = restore(x, rate, tiny_model)
    assert out.dtype == np.float32 and np.array_equal(out, x)


@pytest.mark.parametrize("rate", [48000, 96000])
def test_the_kept_band_is_the_input_itself_and_the_top_band_is_restored(tiny_model, rate):
    x = low_passed(rate, 2.0, 8000.0)
    out = restore(x, rate, tiny_model)
    assert out.shape == x.shape
    kept = band_power_db(out - x, rate, 50, 6000) - band_power_db(x, rate, 50, 6000)
    assert kept < -80.0  # two resamplers in series left it at about -10 dB (a fraction of a sample late)
    assert band_power_db(out, rate, 10000, 20000) > band_power_db(x, rate, 10000, 20000) + 20.0


def test_only_the_restorers_change_goes_through_the_resamplers(tiny_model):
    """The same output as the two-resampler series, but for the input's round trip through them."""
    rate, x = 48000, low_passed(48000, 1.5, 8000.0, seed=3)
    restorer = Restorer(tiny_model)
    length, model_length = x.shape[1], exact_length(x.shape[1], rate, restorer.sample_rate)

    def series(signal_in: np.ndarray) -> np.ndarray:
        return run_whole(Series([ResampleStage(rate, restorer.sample_rate, 2, model_length),
                                 restorer.stream(2, None, None),
                                 ResampleStage(restorer.sample_rate, rate, 2, length)]), signal_in)

    round_trip = run_whole(Series([ResampleStage(rate, restorer.sample_rate, 2, model_length),
                                   ResampleStage(restorer.sample_rate, rate, 2, length)]), x)
    expected = x + (series(x) - round_trip)
    out = run_whole(restore_pipeline(restorer, 2, rate, rate, length, model_length), x)
    assert np.max(np.abs(out - expected)) < 1e-5


def test_block_sizes_do_not_change_the_output(tiny_model, tmp_path):
    rate, x = 96000, low_passed(96000, 1.2, 6000.0, seed=5)
    whole = restore(x, rate, tiny_model)
    stage = restore_pipeline(Restorer(tiny_model), 2, rate, rate, x.shape[1],
                             exact_length(x.shape[1], rate, 44100))
    assert isinstance(stage, SourceRateRestore)
    cuts = np.sort(np.random.default_rng(0).choice(np.arange(1, x.shape[1]), 40, replace=False))
    pieces = [stage.process(block) for block in np.split(x, cuts, axis=1)]
    assert all(sum(p.shape[1] for p in pieces[: i + 1]) <= cuts[i] for i in range(len(cuts)))  # never ahead
    assert np.array_equal(np.concatenate([*pieces, stage.flush()], axis=1), whole)
    with AudioFile(str(tmp_path / "in.wav"), "w", rate, 2, bit_depth=32) as f:  # float: the same samples
        f.write(x)
    restore_file(tmp_path / "in.wav", tmp_path / "out.wav", tiny_model)
    with AudioFile(str(tmp_path / "out.wav")) as f:
        assert f.samplerate == rate and np.array_equal(f.read(f.frames), whole)


def test_another_output_rate_still_resamples_the_whole_signal(tiny_model):
    restorer = Restorer(tiny_model)
    assert isinstance(restore_pipeline(restorer, 1, 48000, 44100), Series)
    assert isinstance(restore_pipeline(restorer, 1, 48000, 96000), Series)
    assert isinstance(restore_pipeline(restorer, 1, 48000, 48000), SourceRateRestore)
