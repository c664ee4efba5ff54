"""The input's band edge and what restoration keeps of the input: real-like material, not white noise."""
from __future__ import annotations

import numpy as np
import pytest

from sagasr_stream import degradation, dsp
from sagasr_stream.api import restore
from sagasr_stream.settings import RestoreSettings
from sagasr_stream.stream import StreamingRestorer

from .material import SR, drums_like, kept_band_error_db, piano_like, tambourine_like, validation_clips

DEGRADATIONS = {
    "resample": lambda x, c: degradation.resample_through(x, SR, 2 * c),
    "steep": lambda x, c: degradation.band_limit(x, SR, degradation.LowPassSpec("ellip", 10, c)),
    "gentle": lambda x, c: degradation.band_limit(x, SR, degradation.LowPassSpec("bessel", 2, c)),
    "butter3": lambda x, c: degradation.band_limit(x, SR, degradation.LowPassSpec("butter", 3, c)),
}
# At 2 and 4 kHz scipy's resample_poly leaves images of a dark piano's loud fundamentals up to twice the cutoff,
# 40-50 dB under them: a shelf above the cut that ends in a cut of its own (dsp._under_a_shelf).
MATERIAL_CASES = [(kind, c) for kind in ("drums", "piano") for c in (2000, 4000, 8000, 12000)]


def material(kind: str, seed: int = 0) -> np.ndarray:
    return (piano_like if kind == "piano" else drums_like)(2.0, seed)


@pytest.mark.parametrize("kind, cutoff", MATERIAL_CASES)
@pytest.mark.parametrize("degradation", sorted(DEGRADATIONS))
def test_edge_is_the_cutoff_on_piano_and_drums(kind, cutoff, degradation):
    for seed in (0, 1):
        x = DEGRADATIONS[degradation](material(kind, seed).astype(np.float64), cutoff)
        assert 0.95 <= dsp.band_edge_hz(x) / cutoff <= 1.1, (kind, seed)


@pytest.mark.parametrize("cutoff", [4000, 8000])
def test_edge_of_a_bright_hit_is_the_cutoff(cutoff):
    """A hit louder above 4 kHz than below leaks its band through the resampler's stop band, which then falls on
    for octaves: no flat floor just above the cut. The drop is far too steep for a fade (seeds 1 and 2 at 4 kHz read
    as full band, and passed through unrestored, before the steep drop counted as a cut)."""
    for seed in range(4):
        x = tambourine_like(1.0, seed).astype(np.float64)
        assert dsp.band_edge_hz(x) >= 16000, seed
        assert 0.95 <= dsp.band_edge_hz(degradation.resample_through(x, SR, 2 * cutoff)) / cutoff <= 1.1, seed


def test_edge_at_2_khz_is_the_cutoff():
    """At 2 kHz the resampler's stop band lies under most of the spectrum and falls on for octaves, so there is no
    flat floor just above the cut; the drop is far too steep for a fade (7 of the 17 validation clips and the drums
    read as full band, and passed through, before a steep drop counted as a cut)."""
    for seed in (0, 1):
        x = degradation.resample_through(drums_like(2.0, seed).astype(np.float64), SR, 4000)
        assert 0.95 <= dsp.band_edge_hz(x) / 2000 <= 1.1, seed
    ratios = np.array([dsp.band_edge_hz(degradation.resample_through(x.astype(np.float64), SR, 4000)) / 2000
                       for x in validation_clips().values()])
    assert np.mean((ratios >= 0.95) & (ratios <= 1.1)) >= 0.8, ratios


@pytest.mark.parametrize("cutoff", [8000, 12000])
@pytest.mark.parametrize("kind", ["piano", "drums"])
def test_edge_sits_at_a_resamplers_cut_not_in_its_transition_band(kind, cutoff):
    """The resampler's transition band, 9-18 dB down, lies above its cutoff: the edge is where the cut starts, not at
    the 18 dB knee (1.07-1.09 x the cutoff before, which kept those remains as the input's band)."""
    for seed in (0, 1):
        x = degradation.resample_through(material(kind, seed).astype(np.float64), SR, 2 * cutoff)
        assert 0.97 <= dsp.band_edge_hz(x) / cutoff <= 1.05, seed


@pytest.mark.parametrize("cutoff", [8000, 12000])
@pytest.mark.parametrize("degradation", ["gentle", "butter3"])
def test_a_gentle_filters_passband_is_not_taken_for_a_steep_cuts_start(degradation, cutoff):
    """A gentle filter droops from an octave below its cutoff: the band's trend droops with it, so its passband stays
    over the line a steep cut's start is measured against, and the edge stays near its knee."""
    for kind in ("piano", "drums"):
        x = DEGRADATIONS[degradation](material(kind).astype(np.float64), cutoff)
        assert dsp.band_edge_hz(x) / cutoff >= 0.96, kind


def test_a_steep_cut_starts_where_the_level_leaves_the_bands_trend(monkeypatch):
    """A band falling 12 dB per octave, then 0.5 dB per bin (a resampler's transition band spans about a tenth of its
    cutoff) into a floor 80 dB down: the edge is where the level (its 9-bin maximum) lies 9 dB under the band's line,
    18 bins into the fall plus the maximum's 4-bin reach, not at the 18 dB knee further up it."""
    bins = np.arange(1025.0)
    level = -12.0 * np.log2(np.maximum(bins, 1) / 100)
    cut = 400
    level[cut:] = np.maximum(level[cut] - 0.5 * (bins[cut:] - cut), level[cut] - 80)
    power = 10 ** (level / 10)
    edge = dsp.band_edge_from_power(power)
    assert cut + 18 <= edge <= cut + 26, edge
    monkeypatch.setattr(dsp, "EDGE_START_DB", np.inf)  # no steep start: the knee
    assert dsp.band_edge_from_power(power) >= edge + 6


def test_a_cut_at_the_top_of_the_band_keeps_its_knee():
    """A cut whose knee lies over 0.9 of Nyquist (here a resample through 37.6 kHz, knee at 20.2-20.3 kHz) is read at
    its knee, not at its start (18.8-19.2 kHz): a band that reaches 20 kHz has nothing missing and passes through."""
    for x in (np.random.default_rng(3).standard_normal(SR), drums_like(2.0).astype(np.float64)):
        assert dsp.band_edge_hz(degradation.resample_through(x, SR, 37600)) >= 20000


@pytest.mark.parametrize("cutoff", [3000, 6000])
def test_edge_of_an_fft_brick_wall_into_silence_is_the_cutoff(cutoff):
    """Above a brick wall lies only the analysis window's leakage, which falls on without a floor."""
    for x in (np.random.default_rng(7).standard_normal(SR), drums_like(1.0).astype(np.float64)):
        spectrum = np.fft.rfft(x)
        spectrum[np.fft.rfftfreq(x.size, 1 / SR) > cutoff] = 0
        assert 0.95 <= dsp.band_edge_hz(np.fft.irfft(spectrum, x.size)) / cutoff <= 1.1


def test_a_shelf_of_images_over_a_steep_cut_is_not_the_band():
    """A dark piano resampled at 4 kHz: images of its loud fundamentals stand 40-50 dB under them up to about 8.5 kHz,
    then stop. The cut into that shelf is the band's top, not the shelf's own end (8.5 kHz before the rule)."""
    x = degradation.resample_through(piano_like(2.0).astype(np.float64), SR, 8000)
    assert 0.95 <= dsp.band_edge_hz(x) / 4000 <= 1.1
    shelf_end = dsp.EDGE_SHELF_DB
    try:
        dsp.EDGE_SHELF_DB = np.inf  # the rule off: the shelf's end is taken
        assert dsp.band_edge_hz(x) / 4000 > 2
    finally:
        dsp.EDGE_SHELF_DB = shelf_end


def hiss_under(x: np.ndarray, cutoff: float, hiss: float = 0.001) -> np.ndarray:
    """``x`` over white hiss of rms ``hiss``, both low-passed at ``cutoff`` (Chebyshev I order 8, zero-phase)."""
    import scipy.signal as sg

    noisy = x + hiss * np.random.default_rng(0).standard_normal(x.size)
    return sg.sosfiltfilt(sg.cheby1(8, 0.5, cutoff, fs=SR, output="sos"), noisy)


def test_a_loud_low_band_over_the_recordings_hiss_is_not_a_shelf_of_leak():
    """Mains hum (60 Hz and four harmonics) or an octave of a fast sweep, 40-80 dB over a recording's hiss that runs
    up to its real cut at 6 kHz: the hiss is the input's own band, not a resampler's leak (a leak's shelf ends within
    about 3 x the cut under it), so the edge is the cut at 6 kHz. It was read at the hum's or sweep's top (0.34-1.3
    kHz) and the hiss band below 6 kHz was replaced."""
    t = np.arange(int(1.5 * SR)) / SR
    hum = sum(0.05 / h * np.sin(2 * np.pi * 60 * h * t) for h in range(1, 6))
    sweep = 0.4 * np.sin(2 * np.pi * np.cumsum(600 * 2.0 ** (t / t[-1])) / SR)  # 600 -> 1200 Hz in 1.5 s
    for loud in (hum, sweep):
        assert 0.95 <= dsp.band_edge_hz(hiss_under(loud, 6000)) / 6000 <= 1.1


def test_the_hiss_band_under_mains_hum_is_kept(tiny_model):
    t = np.arange(4 * SR) / SR
    x = hiss_under(sum(0.05 / h * np.sin(2 * np.pi * 60 * h * t) for h in range(1, 6)), 6000).astype(np.float32)
    y = restore(x, SR, tiny_model)
    below = np.fft.rfftfreq(2 * SR, 1 / SR) < 5000  # the band kept, in the middle two seconds
    taper = np.blackman(2 * SR)  # sidelobes far under the hiss: the band restored above 6 kHz does not leak in
    change, kept = (np.abs(np.fft.rfft(v[SR:-SR] * taper))[below] ** 2 for v in (y - x, x))
    hiss = np.fft.rfftfreq(2 * SR, 1 / SR)[below] > 1000  # the hiss alone, over the hum's band
    assert 10 * np.log10(np.sum(change[hiss]) / np.sum(kept[hiss])) < -60


def test_edge_of_dithered_16_bit_audio_is_the_cutoff():
    rng = np.random.default_rng(5)
    x = degradation.resample_through(drums_like(2.0).astype(np.float64), SR, 16000)
    tpdf = rng.uniform(-0.5, 0.5, x.size) + rng.uniform(-0.5, 0.5, x.size)
    dithered = np.round(x * 32767 + tpdf) / 32767
    assert 0.95 <= dsp.band_edge_hz(dithered) / 8000 <= 1.1


def test_edge_ignores_a_lone_tone_and_holes_in_the_band():
    x = degradation.resample_through(drums_like(2.0).astype(np.float64), SR, 16000)
    t = np.arange(x.size) / SR
    with_tone = x + 1e-3 * np.sin(2 * np.pi * 19000 * t)  # a pilot tone far above the band
    assert 0.95 <= dsp.band_edge_hz(with_tone) / 8000 <= 1.1
    spec = dsp.stft(x)  # MP3-style holes: random time-frequency tiles of the band zeroed
    rng = np.random.default_rng(6)
    holes = rng.random(spec.shape) < 0.3
    holed = dsp.istft(np.where(holes, 0, spec), x.size)
    assert 0.95 <= dsp.band_edge_hz(holed) / 8000 <= 1.1


def test_full_band_material_has_no_edge_below_16_khz():
    for x in [piano_like(2.0), drums_like(2.0), *validation_clips().values()]:
        assert dsp.band_edge_hz(x) >= 16000


@pytest.mark.parametrize("cutoff", [4000, 8000, 12000])
@pytest.mark.parametrize("degradation", ["resample", "steep", "gentle"])
def test_edge_on_the_validation_clips(cutoff, degradation):
    ratios = np.array([dsp.band_edge_hz(DEGRADATIONS[degradation](x.astype(np.float64), cutoff)) / cutoff
                       for x in validation_clips().values()])
    assert 0.92 <= np.median(ratios) <= 1.1  # a gentle filter is -3 dB a little below its cutoff
    assert np.mean((ratios >= 0.9) & (ratios <= 1.1)) >= 0.75  # a few dark clips end their band early
    assert np.sum((ratios < 0.8) | (ratios > 1.25)) <= 1  # at 4 kHz one resampler image can stand out


@pytest.mark.parametrize("kind, cutoff", MATERIAL_CASES)
def test_restoring_keeps_the_input_band_within_half_a_db(tiny_model, kind, cutoff):
    for degradation in ("resample", "gentle"):
        x = DEGRADATIONS[degradation](material(kind).astype(np.float64), cutoff).astype(np.float32)
        y = restore(x, SR, tiny_model)
        assert not np.array_equal(y, x)  # something was restored
        assert kept_band_error_db(y, x, 0.95 * cutoff) <= 0.5, degradation


def test_validation_clips_keep_their_band_on_average(tiny_model):
    errors = []
    for x in list(validation_clips().values())[:4]:
        for cutoff in (4000, 8000, 12000):
            lr = degradation.resample_through(x.astype(np.float64), SR, 2 * cutoff).astype(np.float32)
            errors.append(kept_band_error_db(restore(lr, SR, tiny_model), lr, 0.95 * cutoff))
    assert np.mean(errors) <= 0.5


def test_full_band_input_passes_through_bit_exact(tiny_model):
    x = drums_like(1.0)
    assert np.array_equal(restore(x, SR, tiny_model), x)
    clip = next(iter(validation_clips().values()))
    assert np.array_equal(restore(clip, SR, tiny_model), clip)


def test_half_full_band_half_band_limited_keeps_the_full_band_half(tiny_model):
    full = drums_like(1.0, seed=3)
    limited = degradation.resample_through(drums_like(1.0, seed=4).astype(np.float64), SR, 16000).astype(np.float32)
    x = np.concatenate([full, limited])
    y = restore(x, SR, tiny_model)
    window = tiny_model.manifest.window_samples
    safe = full.size - window  # windows wholly inside the full-band half
    assert np.array_equal(y[:safe], x[:safe])
    assert not np.array_equal(y[full.size + window :], x[full.size + window :])
    for block in (1000, 44100):  # streaming: the same output for any block size
        stream = StreamingRestorer(tiny_model, RestoreSettings(), 1)
        parts = [stream.process(x[i : i + block]) for i in range(0, x.size, block)] + [stream.flush()]
        assert np.array_equal(np.concatenate(parts), y), block


def test_low_band_off_restores_every_window(tiny_model):
    x = drums_like(0.5)
    assert not np.array_equal(restore(x, SR, tiny_model, RestoreSettings(low_band="off")), x)


def test_a_known_source_band_caps_the_edge(tiny_model):
    from sagasr_stream.engine import WindowRestorer
    from sagasr_stream.settings import resolve

    resolved = resolve(RestoreSettings(), tiny_model.manifest)
    x = drums_like(0.5)[None, : tiny_model.manifest.window_samples]
    assert WindowRestorer(tiny_model, resolved).edge_bins(x)[0] == 1024
    capped = WindowRestorer(tiny_model, resolved, band_limit_hz=8000.0).edge_bins(x)[0]
    assert capped * SR / 2048 <= 8000 < (capped + 1) * SR / 2048


@pytest.mark.parametrize("seconds", [0.01, 0.02, 0.03])
@pytest.mark.parametrize("degradation", ["resample", "steep"])
def test_edge_of_a_clip_shorter_than_one_frame_is_the_cutoff(seconds, degradation):
    """Under 2048 samples no STFT frame lies inside the clip; its abrupt ends used to splatter over the cut (a
    20-30 ms hit read as full band and passed through). One tapered frame over the whole clip shows it."""
    for kind, seed in (("drums", 0), ("drums", 1), ("piano", 0)):
        source = material(kind, seed)
        onset = int(np.argmax(np.abs(source) > 0.5 * np.abs(source).max()))  # a hit, not the silence before it
        x = DEGRADATIONS[degradation](source.astype(np.float64), 8000)[onset : onset + int(seconds * SR)]
        assert 0.95 <= dsp.band_edge_hz(x) / 8000 <= 1.1, (kind, seed)


def test_a_short_clip_s_power_reads_white_noise_as_the_frames_do():
    noise = np.random.default_rng(3).standard_normal((64, 1500))
    tapered = dsp.tapered_power(noise).mean(axis=0)
    framed = dsp.interior_power(np.random.default_rng(4).standard_normal(1 << 16)[None])[0]
    assert np.mean(tapered[10:-10]) / np.mean(framed[10:-10]) == pytest.approx(1.0, abs=0.05)
    assert not dsp.tapered_power(np.zeros(1)).any()


def test_a_short_band_limited_file_is_restored_not_passed(tiny_model):
    x = degradation.resample_through(drums_like(0.5).astype(np.float64), SR, 16000)[:900].astype(np.float32)
    y = restore(x, SR, tiny_model)
    assert y.shape == x.shape and not np.array_equal(y, x)


@pytest.mark.parametrize("signal", ["one sample", "a click at the start", "a click at the end"])
def test_a_window_with_no_band_passes_through(tiny_model, signal):
    x = np.zeros(1 if signal == "one sample" else SR, np.float32)
    x[-1 if signal == "a click at the end" else 0] = 0.5
    assert dsp.band_edge_bin(x.astype(np.float64)[None])[0] == 0  # no band: once, an endless loop in the band level
    assert np.array_equal(restore(x, SR, tiny_model), x)


def test_a_band_limit_under_one_bin_passes_through(tiny_model):
    from sagasr_stream.restorer import Restorer

    x = degradation.resample_through(drums_like(1.0).astype(np.float64), SR, 16000).astype(np.float32)
    stage = Restorer(tiny_model).stream(1, 1, band_limit_hz=5.0)  # under what a user may give (checked_band_limit)
    assert np.array_equal(np.concatenate([stage.process(x[None]), stage.flush()], axis=1)[0], x)


@pytest.mark.parametrize("value", [3, 16.0, 999.0])
def test_a_band_limit_in_khz_is_refused_not_a_silent_pass_through(tiny_model, value):
    """--band-limit 3 for a 3 kHz phone line was taken as 3 Hz: the file came out unrestored with no word said."""
    from sagasr_stream.errors import ParameterError
    from sagasr_stream.restorer import Restorer

    with pytest.raises(ParameterError, match=r"band_limit_hz is in Hz and at least 1000 \(3 kHz is 3000\)"):
        Restorer(tiny_model, band_limit_hz=value)
    assert Restorer(tiny_model, band_limit_hz=1000).band_limit_hz == 1000.0
