"""The signal's band limit so far helps each window's own edge (sagasr_stream.bandlimit), and the last window
is filled past the signal's end with the signal mirrored (chunking.pad_past_end)."""
from __future__ import annotations

import numpy as np
import pytest

from sagasr_stream import restore
from sagasr_stream.bandlimit import BandLimitTracker, window_limits
from sagasr_stream.chunking import WindowPlan, pad_past_end
from sagasr_stream.dsp import band_edge_bin
from sagasr_stream.engine import WindowJob
from sagasr_stream.errors import ParameterError
from sagasr_stream.processor import ChunkedProcessor
from tests.conftest import band_limited_noise

PLAN = WindowPlan(8192, 2048)  # the tiny model's windows: hop 6144
FLOOR = 1e-4  # a full-band noise floor (dither, a resampler's stop band) under everything: -80 dB


def test_pad_past_end_mirrors_the_signal():
    block = np.arange(10, dtype=np.float32)[None].repeat(2, 0)
    assert pad_past_end(block, 10) is block
    assert pad_past_end(block, 4).tolist()[0] == [0, 1, 2, 3, 2, 1, 0, 1, 2, 3]  # reflected again at the start
    assert not pad_past_end(block, 1)[:, 1:].any() and pad_past_end(block, 1)[0, 0] == 0
    assert not pad_past_end(block, 0).any()


def test_the_last_window_sees_the_signal_mirrored_not_silence():
    seen: dict[int, np.ndarray] = {}

    def record(jobs: list[WindowJob]) -> list[np.ndarray]:
        seen.update({job.index: job.audio for job in jobs})
        return [job.audio for job in jobs]

    x = np.random.default_rng(0).standard_normal((1, 10_000)).astype(np.float32)
    proc = ChunkedProcessor(record, PLAN, 1)
    y = np.concatenate([proc.push(x), proc.finish()], axis=1)
    np.testing.assert_array_equal(y, x)  # what lies past the end never comes out
    last = seen[1]  # window 1: samples 6144 .. 14336, of which 3856 are signal
    np.testing.assert_array_equal(last[:3856], x[0, 6144:])
    np.testing.assert_array_equal(last[3856:3856 + 100], x[0, -2:-102:-1])


def dark_after_bright(bright: int, total: int, dark: np.ndarray) -> np.ndarray:
    """Band-limited noise (6 kHz) for ``bright`` samples, then ``dark``; a -80 dB full-band floor under all."""
    rng = np.random.default_rng(5)
    x = np.concatenate([band_limited_noise(bright, cutoff_hz=6000.0), dark[: total - bright]])
    return (x + FLOOR * rng.standard_normal(total)).astype(np.float32)


def low_tones(n: int) -> np.ndarray:
    t = np.arange(n) / 44100
    return (0.3 * np.sin(2 * np.pi * 220 * t) + 0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def test_limits_do_not_depend_on_the_block_size():
    x = dark_after_bright(12288, 40_000, low_tones(40_000))[None].repeat(2, 0)
    x[1] *= 0.5
    whole = window_limits(x, PLAN)
    for block in (1, 777, 8192):
        tracker = BandLimitTracker(PLAN, 2)
        for i in range(0, x.shape[1], block):
            tracker.push(x[:, i : i + block])
        tracker.end()
        assert [tracker.limits(k) for k in range(PLAN.n_windows(x.shape[1]))] == whole
    assert whole[0] == [None, None]  # no history before the first window
    assert whole[1][0] is not None and abs(whole[1][0].edge_bin * 44100 / 2048 - 6000) < 1000


def test_a_whole_signal_metered_in_pieces_gives_the_same_limits(monkeypatch):
    """One push of a whole signal is metered PUSH_FRAMES frames at a time: the limits (their floats) and the
    snapshots are those of metering every frame at once."""
    import sagasr_stream.bandlimit as bandlimit

    x = dark_after_bright(12288, 40_000, low_tones(40_000))[None].repeat(2, 0)
    x[1] *= 0.5
    monkeypatch.setattr(bandlimit, "PUSH_FRAMES", 10**9)
    at_once = [window_limits(x, PLAN, downmix) for downmix in (False, True)]
    for frames in (1, 5):
        monkeypatch.setattr(bandlimit, "PUSH_FRAMES", frames)
        assert [window_limits(x, PLAN, downmix) for downmix in (False, True)] == at_once
    assert at_once[0][1][0] is not None and at_once[1][1][0] is not None


def test_full_band_and_silent_signals_have_no_limit():
    noise = np.random.default_rng(1).standard_normal((1, 30_000)).astype(np.float32)
    assert all(limit == [None] for limit in window_limits(noise, PLAN))
    assert all(limit == [None] for limit in window_limits(np.zeros((1, 30_000), np.float32), PLAN))


def test_a_dark_window_after_bright_ones_is_restored(tiny_model):
    x = dark_after_bright(12288, 30_000, low_tones(30_000))
    window2 = x[12288:12288 + 8192]
    assert band_edge_bin(window2) == 1024  # alone, the dark window reads as full band: it would pass through
    y = restore(x, 44100, tiny_model)
    alone = slice(12288 + 2048, 18432)  # the samples that are window 2's alone
    assert not np.allclose(y[alone], x[alone], atol=1e-3)  # restored above the signal's edge


def test_a_bright_window_in_a_band_limited_signal_is_kept(tiny_model):
    """A burst of full-band content (a cymbal) under the signal's edge so far is kept, not restored over."""
    cymbal = 0.005 * np.random.default_rng(2).standard_normal(8192).astype(np.float32)
    x = dark_after_bright(12288, 30_000, np.concatenate([cymbal, band_limited_noise(30_000, cutoff_hz=6000.0, seed=3)]))
    limits = window_limits(x[None], PLAN)
    assert limits[2][0] is not None  # the mean spectrum up to window 2's end still shows the 6 kHz cut
    assert band_edge_bin(x[12288:20480]) == 1024
    y = restore(x, 44100, tiny_model)
    alone = slice(12288 + 2048, 18432)
    np.testing.assert_array_equal(y[alone], x[alone])  # passed through bit for bit


@pytest.mark.parametrize("block", [1000, 4096])
def test_streams_give_dark_windows_the_same_limit(tiny_model, block):
    from sagasr_stream.restorer import Restorer

    x = dark_after_bright(12288, 30_000, low_tones(30_000))[None]
    stage = Restorer(tiny_model).stream(1)
    y = np.concatenate([stage.process(x[:, i : i + block]) for i in range(0, x.shape[1], block)] + [stage.flush()], axis=1)
    np.testing.assert_array_equal(y[0], restore(x[0], 44100, tiny_model))


@pytest.mark.parametrize("mode", ["linked", "mid-side", "independent"])
def test_a_dark_window_is_restored_in_the_stereo_modes(tiny_model, mode):
    """Each channel's own limit reaches the pair's edges ("mono" restores the downmix, whose limit the tracker
    measures itself: tests/runtime/test_stereo.py pins that it equals restoring the downmix alone)."""
    from sagasr_stream import RestoreSettings

    x = dark_after_bright(12288, 30_000, low_tones(30_000))
    pair = np.stack([x, 0.7 * x + FLOOR * np.random.default_rng(9).standard_normal(x.size)]).astype(np.float32)
    y = restore(pair, 44100, tiny_model, RestoreSettings(stereo=mode), layout="channels_first")
    alone = slice(12288 + 2048, 18432)
    for channel in range(2):
        assert not np.allclose(y[channel, alone], pair[channel, alone], atol=1e-3), (mode, channel)


def sweep_over_noise(seconds: float = 8.0, noise: float = 0.01, rate: int = 44100) -> np.ndarray:
    """A log sweep 100 Hz -> 5.5 kHz over 20 s (its first ``seconds``), 0.4 peak, over white noise of rms
    ``noise``, both low-passed at 6 kHz (Chebyshev I order 8, zero-phase): (samples,) float32."""
    import scipy.signal as sg

    t = np.arange(int(seconds * rate)) / rate
    phase = 2 * np.pi * 100 * 20 / np.log(55) * (np.exp(t / 20 * np.log(55)) - 1)
    x = 0.4 * np.sin(phase) + noise * np.random.default_rng(0).standard_normal(t.size)
    return sg.sosfiltfilt(sg.cheby1(8, 0.5, 6000, fs=rate, output="sos"), x).astype(np.float32)


def test_a_sweep_over_a_quiet_band_is_no_cut_at_the_sweeps_top():
    """The mean spectrum of a sweep so far is a band that ends where the sweep has got to, 40-60 dB over the
    recording's own quiet band (its noise, up to its real cut at 6 kHz). That band is the user's: the signal's edge
    stays at 6 kHz (it used to be read at the sweep's top, 0.4-5 kHz, and the windows' noise band was replaced)."""
    x = sweep_over_noise(noise=0.001)[None]
    edges = [limits[0].edge_bin * 44100 / 2048 for limits in window_limits(x, PLAN) if limits[0] is not None]
    assert len(edges) > 40 and min(edges) > 5500


def test_the_input_band_under_a_sweep_is_kept(tiny_model):
    import scipy.signal as sg

    x = sweep_over_noise()
    y = restore(x, 44100, tiny_model)
    low = sg.butter(8, 5000, fs=44100, output="sos")
    change, kept = sg.sosfiltfilt(low, y - x), sg.sosfiltfilt(low, x)
    second = 44100
    ratios = [np.sum(change[i : i + second] ** 2) / np.sum(kept[i : i + second] ** 2)
              for i in range(second, x.size - second, second)]  # the filters' own edges left out
    assert 10 * np.log10(max(ratios)) < -60


def test_each_limit_carries_the_mean_slope_of_the_windows_so_far():
    """The slope condition's darkness settles over a signal (metered only when asked for): window k's limit carries the
    mean of windows 0..k's own slopes below their edges (each from the meter's frames of that window,
    :func:`window_slope_of`), so a dark recording steeper than -24 dB per octave reads so from its second window on,
    and a bright one stays bright."""
    from scipy.signal import butter, sosfilt

    from sagasr_stream.bandlimit import METER_HOP, window_slope_of

    bright = band_limited_noise(40_000, cutoff_hz=8000.0)
    dark = sosfilt(butter(4, 2000, fs=44100, output="sos"), bright.astype(np.float64)).astype(np.float32)
    for signal, steeper in ((bright, False), (dark, True)):
        assert all(row[0] is None or row[0].slope_db_per_octave is None for row in window_limits(signal[None], PLAN))
        limits = [row[0] for row in window_limits(signal[None], PLAN, slopes=True)]
        assert limits[0] is None and all(limit is not None for limit in limits[1:])
        own = []
        for k in range(len(limits)):
            whole_frames = BandLimitTracker._frames_in  # frames wholly inside [0, n)
            start, stop = whole_frames(k * PLAN.hop), whole_frames(min(k * PLAN.hop + PLAN.window, signal.size))
            frames = signal[start * METER_HOP : stop * METER_HOP].astype(np.float64).reshape(-1, METER_HOP)
            power = (np.abs(np.fft.rfft(frames * np.hanning(METER_HOP + 1)[:-1], axis=-1)) ** 2).mean(axis=0)
            own.append(window_slope_of(power, limits[k]))
        for k in range(1, len(limits)):
            assert limits[k].slope_db_per_octave == pytest.approx(np.mean(own[: k + 1]), abs=1e-6)
            assert (limits[k].slope_db_per_octave < -24.0) == steeper


def test_limits_are_given_in_window_order():
    tracker = BandLimitTracker(PLAN, 1)
    tracker.push(band_limited_noise(40_000, cutoff_hz=8000.0)[None])
    tracker.end()
    with pytest.raises(ParameterError, match="window 0 is next, not 1"):
        tracker.limits(1)
