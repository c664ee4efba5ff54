"""Signal processing shared by the runtime, the exporter and the training code (the low-pass recipe that
makes band-limited inputs is :mod:`sagasr_stream.degradation`).

Everything here is numpy/scipy only. Arrays are float32 or float64 with time on the last axis.

- STFT/ISTFT (n_fft 2048, hop 512, periodic Hann, centred with zero padding), perfect reconstruction.
- Spectral roll-off as defined in SPEC section 1 (98.5 % of the time-summed magnitude).
- The input's band edge (where its spectrum falls into its own noise floor), shared by the crossover, the
  pass-through decision, upsampling and ``sagasr info --input``.
- The low-band merge applied after decoding (keep the input's band, or the official energy-ratio replacement).
"""
from __future__ import annotations

import functools
from typing import Callable, Literal, Sequence

import numpy as np
import scipy.fft
from numpy.lib.stride_tricks import sliding_window_view
from scipy import signal

from .errors import ParameterError

N_FFT = 2048
HOP = 512
ROLLOFF_PERCENTILE = 0.985

LowBandMode = Literal["keep", "replace", "off"]


@functools.lru_cache(maxsize=32)
def _hann(n_fft: int) -> np.ndarray:
    """Periodic Hann window of ``n_fft`` samples, float64, read-only (cached: every STFT frame uses it)."""
    window = signal.get_window("hann", n_fft, fftbins=True)
    window.setflags(write=False)
    return window


@functools.lru_cache(maxsize=8)
def _hann32(n_fft: int) -> np.ndarray:
    """:func:`_hann` cast to float32 (the single-precision STFT's window), read-only."""
    window = _hann(n_fft).astype(np.float32)
    window.setflags(write=False)
    return window


def stft(x: np.ndarray, n_fft: int = N_FFT, hop: int = HOP, single: bool = False) -> np.ndarray:
    """Complex STFT of ``x`` (..., samples) -> (..., n_fft // 2 + 1, frames), centred, zero padded.

    ``single``: computed in float32 (complex64 out, relative error ~1e-7, about 3x faster) for iterative
    estimates; otherwise complex128 (numpy's FFT, whatever the input's float type)."""
    x = np.asarray(x, dtype=np.float32) if single else np.asarray(x)
    pad = n_fft // 2
    padded = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(pad, pad)])
    n_frames = 1 + (padded.shape[-1] - n_fft) // hop
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft, axis=-1)[..., ::hop, :][..., :n_frames, :]
    if single:
        spec = scipy.fft.rfft(frames * _hann32(n_fft), axis=-1)
    else:
        spec = np.fft.rfft(frames * _hann(n_fft), axis=-1)
    return np.swapaxes(spec, -1, -2)


def float64_stft(x: np.ndarray, n_fft: int = N_FFT, hop: int = HOP) -> np.ndarray:
    """:func:`stft` of ``x`` taken in float64: the analysis the band edge and the low-band merge share."""
    return stft(np.asarray(x, dtype=np.float64), n_fft, hop)


def istft(spec: np.ndarray, length: int, n_fft: int = N_FFT, hop: int = HOP, single: bool = False) -> np.ndarray:
    """Inverse of :func:`stft`: (..., bins, frames) -> (..., length) float64 (float32 with ``single``, computed
    in float32 as :func:`stft`'s), weighted overlap-add."""
    if single:
        spec = np.asarray(spec, dtype=np.complex64)
        frames = _times(scipy.fft.irfft(np.swapaxes(spec, -1, -2), n=n_fft, axis=-1), _hann32(n_fft))
    else:
        frames = _times(np.fft.irfft(np.swapaxes(spec, -1, -2), n=n_fft, axis=-1), _hann(n_fft))
    out = _overlap_add(frames, hop)  # a new array: divided in place (the same floats as out / norm)
    out /= _overlap_norm_as(n_fft, hop, frames.shape[-2], frames.dtype.char)
    pad = n_fft // 2
    out = out[..., pad : pad + length]
    if out.shape[-1] < length:
        out = np.pad(out, [(0, 0)] * (out.ndim - 1) + [(0, length - out.shape[-1])])
    return out


def _times(fresh: np.ndarray, window: np.ndarray) -> np.ndarray:
    """``fresh * window`` for a new array ``fresh`` of no other owner: in place where the product keeps its type (the
    same floats, one large allocation fewer), else a new array."""
    if np.result_type(fresh, window) == fresh.dtype:
        fresh *= window
        return fresh
    return fresh * window


def _overlap_add(frames: np.ndarray, hop: int) -> np.ndarray:
    """(..., frames, n_fft) -> (..., n_fft + hop (frames - 1)): frame i added at sample i * hop.

    When hop divides n_fft, one slab of hop samples of every frame at a time (n_fft / hop additions over all
    frames at once); the frames still add in their order at every sample (the earliest frame first), so
    the sums are the same floats as adding frame by frame."""
    n_frames, n_fft = frames.shape[-2:]
    total = n_fft + hop * (n_frames - 1)
    if n_fft % hop:
        out = np.zeros(frames.shape[:-2] + (total,), dtype=frames.dtype)
        for i in range(n_frames):
            out[..., i * hop : i * hop + n_fft] += frames[..., i, :]
        return out
    parts = n_fft // hop
    slabs = frames.reshape(frames.shape[:-1] + (parts, hop))  # (..., frames, parts, hop)
    out = np.zeros(frames.shape[:-2] + (n_frames + parts - 1, hop), dtype=frames.dtype)
    for k in reversed(range(parts)):  # at slab j: frame j - (parts - 1) first, frame j last
        out[..., k : k + n_frames, :] += slabs[..., :, k, :]
    return out.reshape(frames.shape[:-2] + (total,))


@functools.lru_cache(maxsize=16)
def _overlap_norm(n_fft: int, hop: int, n_frames: int) -> np.ndarray:
    """The summed squared window of :func:`istft`'s overlap-add, 1 where it vanishes: (n_fft + hop (frames - 1),)
    float64, read-only."""
    norm = _overlap_add(np.broadcast_to(_hann(n_fft) ** 2, (n_frames, n_fft)), hop)
    norm = np.where(norm > 1e-10, norm, 1.0)
    norm.setflags(write=False)
    return norm


@functools.lru_cache(maxsize=16)
def _overlap_norm_as(n_fft: int, hop: int, n_frames: int, dtype: str) -> np.ndarray:
    """:func:`_overlap_norm` cast to ``dtype`` (a numpy type code: 'f' for the single-precision ISTFT), read-only."""
    norm = _overlap_norm(n_fft, hop, n_frames).astype(dtype, copy=False)
    if norm.flags.writeable:
        norm.setflags(write=False)
    return norm


def rolloff_bin(x: np.ndarray, n_fft: int = N_FFT, hop: int = HOP, percentile: float = ROLLOFF_PERCENTILE) -> np.ndarray:
    """Index of the first frequency bin where the cumulative, time-summed STFT magnitude reaches
    ``percentile`` of the total. ``x``: (..., samples) -> int array of shape (...). Silence gives 0.

    The official SAGA-SR code returns the bin just below this one; we follow SPEC section 1.
    """
    x = np.asarray(x, dtype=np.float64)
    rows = x.reshape(-1, x.shape[-1])
    if len(rows) > 1:  # signal by signal: the same sums, without a batch-sized STFT made afresh on every call
        magnitude = np.stack([np.abs(stft(row, n_fft, hop)).sum(axis=-1) for row in rows])
        magnitude = magnitude.reshape(x.shape[:-1] + magnitude.shape[-1:])
    else:
        magnitude = np.abs(stft(x, n_fft, hop)).sum(axis=-1)
    cumulative = np.cumsum(magnitude, axis=-1)
    total = cumulative[..., -1:]
    reached = cumulative >= percentile * total
    index = np.argmax(reached, axis=-1)
    return np.where(total[..., 0] > 0, index, 0)


# Band edge detection (see band_edge_from_power); tuned on piano-/drum-like material and the validation
# clips band-limited at 4-12 kHz (tests/runtime/test_band_edge.py).
EDGE_KNEE_DB = 18.0  # the edge: where the level stays this far under the band just below
EDGE_START_DB = 9.0  # ... moved down to where the level stays this far under the band's trend (a steep cut's start)
EDGE_TREND_SPAN = (0.5, 0.85)  # ... that trend fitted over these fractions of the knee (a line in dB per octave)
EDGE_START_LOWEST = 0.93  # ... at most down to this fraction of the knee
EDGE_START_BELOW = 0.9  # ... only for a knee under this fraction of Nyquist (19.8 kHz at 44.1 kHz): see _steep_start
EDGE_DROP_DB = 25.0  # a cut: band-to-floor drop across +-15 % of the frequency
EDGE_STEEP_DROP_DB = 40.0  # a drop this large is a cut even where the level above it keeps falling (no music fades so)
EDGE_STEEP_FILL_DB = 20.0  # ... under a filled band: a quarter of the octave below within this of the band (not tones)
EDGE_SHELF_DB = 40.0  # a steep cut whose band stands this far over the highest cut's band is the band's top ...
EDGE_SHELF_SPAN = 1.6  # ... when the highest cut lies at least this many times its frequency (the shelf between)
EDGE_SHELF_MAX_SPAN = 4.0  # ... and at most this many: a leak's shelf ends within ~3 x its band's cut, hiss does not
EDGE_SPAN = 0.15  # relative half-width of a cut (a filter's transition band scales with its cutoff)
EDGE_ISLAND_DB = 6.0  # a dip this deep under a candidate band, below it, makes it an island
EDGE_DYNAMIC_RANGE_DB = 150.0  # levels are floored this far under the loudest bin (digital silence)
EDGE_ROUNDING_MARGIN = 1.5  # times the expected rounding power taken out (its frame-mean estimate scatters above it)
EDGE_ROUNDING_RAW_DROP_DB = 6.0  # ... and a cut found so must show this drop in the level as it is (not a mere fade)
# A cut into an integer grid's dither (band_edge_from_power's third look): TPDF dither holds 3 x the rounding power
EDGE_DITHER_DROP_DB = 12.0  # band-to-floor drop across +-15 % of the frequency, when the floor is the grid's noise
EDGE_DITHER_FLOOR = (2.0, 8.0)  # the floor just above such a cut, in rounding powers: dither's (rounding: its own look)
EDGE_DITHER_KNEE_DB = 3.0  # ... and its edge: where the level comes within this of that floor (or the usual knee)
DC_BINS = 2  # bins a DC offset fills under a periodic Hann frame (0 and 1): no part of any band edge


def interior_power(x: np.ndarray, n_fft: int = N_FFT, hop: int = HOP, spec: np.ndarray | None = None) -> np.ndarray:
    """Mean STFT power per bin over the frames wholly inside ``x``: (..., samples) -> (..., n_fft // 2 + 1).

    The zero-padded edge frames are left out: a window cut from running audio starts and ends abruptly,
    and those frames splatter broadband energy that is not in the signal. An input shorter than ``n_fft``
    (no frame inside it) is one frame under a Hann window of its own length (:func:`tapered_power`).
    ``spec``: ``x``'s float64 :func:`stft`, when the caller has it already (its frames beyond ``x`` unused).
    """
    first, last = -(-(n_fft // 2) // hop), (x.shape[-1] - n_fft // 2) // hop
    if last < first:
        return tapered_power(x, n_fft)
    if spec is None:
        spec = float64_stft(x, n_fft, hop)
    return (np.abs(spec[..., first : last + 1]) ** 2).mean(axis=-1)


def tapered_power(x: np.ndarray, n_fft: int = N_FFT) -> np.ndarray:
    """Power per bin of a short input, (..., n <= n_fft) -> (..., n_fft // 2 + 1) float64: the whole signal under
    a periodic Hann window of its own length, zero-padded to ``n_fft``, scaled so that white noise reads as in
    :func:`stft`'s frames. Its ends are tapered, so a 20 ms clip's cut is not hidden under the splatter of its
    abrupt start and end."""
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[-1]
    if n < 2:
        return np.zeros(x.shape[:-1] + (n_fft // 2 + 1,))
    x = x - x.mean(axis=-1, keepdims=True)  # a DC offset under this short taper would spread over many bins
    taper = _hann(n)
    power = np.abs(np.fft.rfft(x * taper, n=n_fft, axis=-1)) ** 2
    return power * (np.sum(_hann(n_fft) ** 2) / np.sum(taper**2))


def band_edge_from_power(power: np.ndarray, rounding_floor: float = 0.0, shelf: bool = True) -> int:
    """The band edge bin of one mean power spectrum ``power`` (bins,): where the spectrum falls from its
    band into its own noise floor. Returns ``bins - 1`` (full band: no cut found) or 0 (silence).
    ``rounding_floor``: the expected power per bin of integer samples' rounding noise
    (:mod:`sagasr_stream.quantization`); when no cut shows, one is looked for again with that taken out (kept where
    the level as it is drops :data:`EDGE_ROUNDING_RAW_DROP_DB` across it, not where it merely fades), and
    then once more as a drop of only :data:`EDGE_DITHER_DROP_DB` into a floor at the level of the grid's dither
    (:data:`EDGE_DITHER_FLOOR`: 2-8 times the rounding power), its edge where the level comes within
    :data:`EDGE_DITHER_KNEE_DB` of that floor: a dithered file's cut, in a passage too quiet for the full drop.
    ``shelf``: whether a cut under a shelf is taken for the top (:func:`_under_a_shelf`).

    - the level per bin (dB) is smoothed by a 9-bin maximum (bridges the gaps between harmonics and
      MP3-style holes) and a 31-bin median (a lone tonal peak, narrower than ~330 Hz, is not a band);
    - bin k is a cut when the level drops by :data:`EDGE_DROP_DB` from just below k (0.85-0.95 k) to just
      above it (1.05-1.15 k), and what is just above is already floor: no more than 6 dB over the 90th
      percentile of everything above (dither, the resampler's stop band, rounding, whatever its shape).
      The spans are relative, like a filter's transition band. A spectrum that fades towards Nyquist, however
      dark, has no such cut: it is content all the way (full band). A drop of :data:`EDGE_STEEP_DROP_DB` or
      more under a filled octave is a cut whatever lies above it (:func:`_steep_cut`): a bright sound (a
      tambourine, a hi-hat) cut at 4 kHz, or most sounds at 2 kHz, leak their band through the resampler's stop
      band, which then falls on for octaves; no full-band recording measured drops more than 30.4 dB so (model
      card, "A steep cut into a falling stop band"). The highest cut wins, so a loud low band does not hide a
      faint top band, unless it lies on a shelf over such a steep cut (:func:`_under_a_shelf`);
    - a candidate whose band sits above a gap (the level between k / 2 and the band dips
      :data:`EDGE_ISLAND_DB` below it) is an island: a resampler's image or a lone partial, not the top;
    - the edge is the knee of that cut (:func:`_knee`): the first bin, from 0.7 k up, that falls
      :data:`EDGE_KNEE_DB` under the band just below it; it sits where the filter starts to bite, neither
      in its stop band nor short of the band; then moved down to where a steep cut starts, :data:`EDGE_START_DB`
      under the band's trend (:func:`_steep_start`: a resampler's transition band is no band to keep, a gentle
      filter's drooping passband is).
    """
    power = without_dc_bins(np.asarray(power, dtype=np.float64))
    bins = power.shape[-1]
    peak = float(power.max()) if power.size else 0.0
    if not peak > 0:
        return 0
    edge = _cut_in(power, peak, shelf=shelf)
    if edge == bins - 1 and rounding_floor > 0:  # a quiet integer-sample input: its cut may lie under the rounding
        found = _cut_in(np.maximum(power - EDGE_ROUNDING_MARGIN * rounding_floor, 1e-3 * rounding_floor), peak)
        if found < bins - 1 and _raw_drop_db(power, found) >= EDGE_ROUNDING_RAW_DROP_DB:
            edge = found
    if edge == bins - 1 and rounding_floor > 0:  # a quiet dithered input: its cut may lie a few dB over the dither
        low, high = (10 * np.log10(times * rounding_floor) for times in EDGE_DITHER_FLOOR)
        edge = _cut_in(power, peak, EDGE_DITHER_DROP_DB, (low, high))
    return edge


def without_dc_bins(power: np.ndarray) -> np.ndarray:
    """``power`` (bins,) with its :data:`DC_BINS` lowest bins set to the next one's: a DC offset (a constant under a
    periodic Hann frame lands in them alone) would otherwise be the loudest bin, and the level floor the edge search
    sets under the loudest bin (:data:`EDGE_DYNAMIC_RANGE_DB`) would hide the cut of the signal riding on it."""
    if power.shape[-1] <= DC_BINS:
        return power
    return np.concatenate([np.full(DC_BINS, power[DC_BINS]), power[DC_BINS:]])


def _raw_drop_db(power: np.ndarray, edge: int) -> float:
    """How far (dB) the median level of ``power`` (bins,) falls from just below ``edge`` (0.8-0.95 x) to just above
    it (1.1-1.3 x)."""
    level = 10.0 * np.log10(np.maximum(power, 1e-300))
    below = level[int(0.8 * edge) : max(int(0.95 * edge), int(0.8 * edge) + 1)]
    above = level[min(int(1.1 * edge), level.size - 1) : max(int(1.3 * edge), int(1.1 * edge) + 1)]
    return float(np.median(below) - np.median(above))


def _cut_in(power: np.ndarray, peak: float, drop_db: float = EDGE_DROP_DB,
            dither_db: tuple[float, float] | None = None, shelf: bool = True) -> int:
    """:func:`band_edge_from_power`'s search for a cut in ``power`` (bins,) float64 whose loudest bin is ``peak``:
    a drop of ``drop_db``; with ``dither_db`` (the levels, dB, between which an integer grid's dither shows) only
    into a floor within them, and the edge no higher than where the level comes within :data:`EDGE_DITHER_KNEE_DB`
    of that floor; ``shelf``: as :func:`band_edge_from_power`'s."""
    from scipy import ndimage

    bins = power.shape[-1]
    level = 10.0 * np.log10(power + peak * 10.0 ** (-EDGE_DYNAMIC_RANGE_DB / 10.0))
    envelope = ndimage.median_filter(ndimage.maximum_filter1d(level, 9), 31, mode="nearest")
    ks = np.arange(int((bins - 1) / (1 + EDGE_SPAN)), 16, -1)
    if ks.size == 0:
        return bins - 1
    lo_start = (ks * (1 - EDGE_SPAN)).astype(int)
    lo_stop = np.maximum((ks * (1 - EDGE_SPAN / 3)).astype(int), lo_start + 1)
    hi_start = np.ceil(ks * (1 + EDGE_SPAN / 3)).astype(int)
    hi_stop = (ks * (1 + EDGE_SPAN)).astype(int) + 1
    # a necessary condition, for every k at once: median(lo) - median(hi) <= max(lo) - min(hi)
    padded = np.append(envelope, envelope[-1])  # reduceat needs every slice end to be a valid index
    lo_max = np.maximum.reduceat(padded, np.stack([lo_start, lo_stop], 1).ravel())[::2]
    hi_min = np.minimum.reduceat(padded, np.stack([hi_start, hi_stop], 1).ravel())[::2]
    candidates = np.flatnonzero(lo_max - hi_min >= drop_db)
    bands = _slice_medians(envelope, lo_start[candidates], lo_stop[candidates])
    above = _slice_medians(envelope, hi_start[candidates], hi_stop[candidates])

    def top_of_band(n: int) -> bool:
        """Whether candidate ``n`` is a cut: a drop into a floor (or too steep for a fade), not an island."""
        band, just_above = float(bands[n]), float(above[n])
        if band - just_above < drop_db or (dither_db is not None and not dither_db[0] <= just_above <= dither_db[1]):
            return False
        k, i = int(ks[candidates[n]]), int(candidates[n])
        falls_on = just_above > float(np.percentile(envelope[hi_start[i] :], 90)) + 6.0
        if falls_on and not _steep_cut(level, k, band, just_above):
            return False  # the level falls on above it: a fade, unless the drop is too steep for one
        return float(envelope[k // 2 : lo_start[i] + 1].min()) >= band - EDGE_ISLAND_DB  # else an island above a gap

    found = next((n for n in range(candidates.size) if top_of_band(n)), None)  # the highest cut first
    if found is None:
        return bins - 1
    if dither_db is None and shelf:
        found = _under_a_shelf(found, ks[candidates], bands, above, level, top_of_band)
    i = int(candidates[found])
    floor_db = -np.inf if dither_db is None else float(above[found]) + EDGE_DITHER_KNEE_DB
    smooth = ndimage.maximum_filter1d(level, 9)
    knee = _knee(smooth, int(0.7 * ks[i]), int(hi_stop[i]), floor_db)
    return _steep_start(smooth, knee)


def _steep_start(smooth: np.ndarray, knee: int) -> int:
    """Where the cut whose knee is ``knee`` starts: the first bin in [:data:`EDGE_START_LOWEST` x knee, knee] from
    which the 9-bin-maximum level ``smooth`` (dB) stays :data:`EDGE_START_DB` under the band's trend (a line, dB
    against octaves, fitted over :data:`EDGE_TREND_SPAN` of the knee), or ``knee`` if it ends above the line.

    A resampler's or a steep filter's transition band lies under the 18 dB knee: its remains, 9-18 dB down, are
    no band to keep (restored, told the cutoff, v3.9 does 1-3 % better). A gentle filter droops from an octave
    below, so its trend droops too, and its passband stays over the line: its edge keeps its knee. So does a cut
    whose knee lies over :data:`EDGE_START_BELOW` of Nyquist (an MP3's at 320 kbps, a 40 kHz converter's): a band
    that reaches 20 kHz has nothing missing (``settings.AUTO_COMPLETE_BAND_HZ``) and passes through as it is."""
    lo, hi = int(EDGE_TREND_SPAN[0] * knee), int(EDGE_TREND_SPAN[1] * knee)
    if hi - lo < 8 or knee >= EDGE_START_BELOW * (smooth.size - 1):
        return knee
    octaves = np.log2(np.arange(lo, hi))
    slope, offset = np.polyfit(octaves, smooth[lo:hi], 1)
    bins = np.arange(int(np.ceil(EDGE_START_LOWEST * knee)), knee + 1)
    over = np.flatnonzero(smooth[bins] >= slope * np.log2(bins) + offset - EDGE_START_DB)
    if over.size == 0:
        return int(bins[0])
    return knee if over[-1] == bins.size - 1 else int(bins[over[-1] + 1])


def _under_a_shelf(found: int, ks: np.ndarray, bands: np.ndarray, above: np.ndarray, level: np.ndarray,
                   top_of_band: Callable[[int], bool]) -> int:
    """The cut to take, given the highest one ``found`` (an index into the candidates' bins ``ks``, band levels
    ``bands`` and levels just above ``above``, dB, highest bin first): a lower cut instead, at most 1 / 1.6 of its
    frequency and at least 1 / :data:`EDGE_SHELF_MAX_SPAN` (a recording's hiss up to its real cut, under mains hum
    or a fast sweep 40-80 dB louder, is its own band, not leak), when that one drops :data:`EDGE_STEEP_DROP_DB`
    under a filled octave (:func:`_steep_cut`) and its own band stands :data:`EDGE_SHELF_DB` over the found cut's
    band. What lies between is a shelf of junk 40 dB under the band, a resampler's or a filter's leak that ends in a
    cut of its own (a 2 kHz cut whose images reach 5 kHz), not a top band: no full-band recording measured drops 40
    dB so (model card, "A shelf over a steep cut")."""
    for n in range(found + 1, ks.size):
        k, band, just_above = int(ks[n]), float(bands[n]), float(above[n])
        if k * EDGE_SHELF_MAX_SPAN < ks[found]:
            break  # lower cuts lie further still: a band so far under the top is no leak's, but the input's own
        if k * EDGE_SHELF_SPAN > ks[found] or band - float(bands[found]) < EDGE_SHELF_DB:
            continue
        if _steep_cut(level, k, band, just_above) and top_of_band(n):
            return n
    return found


def _steep_cut(level: np.ndarray, k: int, band: float, just_above: float) -> bool:
    """Whether a drop at bin ``k`` from ``band`` to ``just_above`` (dB, the envelope's medians just below and above)
    is a cut whatever lies above it: :data:`EDGE_STEEP_DROP_DB` deep under a filled octave, a quarter of whose bins
    (``level``, dB per bin, k / 2 to 0.95 k) lie within :data:`EDGE_STEEP_FILL_DB` of the band. A few tones over a
    noise floor also drop that far, into their own leakage, but the octave under them is mostly gaps."""
    if band - just_above < EDGE_STEEP_DROP_DB:
        return False
    octave = level[k // 2 : max(int(k * (1 - EDGE_SPAN / 3)), k // 2 + 1)]
    return float(np.percentile(octave, 25)) >= band - EDGE_STEEP_FILL_DB


def _sorted_slices(values: np.ndarray, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """The slices ``values[a:b]`` for (a, b) in ``zip(starts, stops)`` (each at least one long) side by side,
    each sorted, NaN-padded at the end: (n, longest) float64."""
    lengths = stops - starts
    columns = np.arange(int(lengths.max()))
    index = np.minimum(starts[:, None] + columns[None, :], values.size - 1)
    rows = np.where(columns[None, :] < lengths[:, None], values[index], np.nan)
    rows.sort(axis=1)
    return rows


def _slice_medians(values: np.ndarray, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """``np.median(values[a:b])`` for every (a, b) in ``zip(starts, stops)``, all at once (:func:`_sorted_slices`):
    the middle element, or the mean of the two middle ones; the same floats as one median per slice."""
    if starts.size == 0:
        return np.empty(0)
    rows, lengths = _sorted_slices(values, starts, stops), stops - starts
    upper = np.take_along_axis(rows, (lengths // 2)[:, None], axis=1)[:, 0]
    lower = np.take_along_axis(rows, ((lengths - 1) // 2)[:, None], axis=1)[:, 0]
    return np.where(lengths % 2 == 1, upper, (lower + upper) / 2.0)


def _slice_upper_quartiles(values: np.ndarray, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """``np.percentile(values[a:b], 75)`` for every (a, b), all at once (:func:`_sorted_slices`), with numpy's
    default ("linear") interpolation written out as numpy computes it, so the floats are the same."""
    rows, lengths = _sorted_slices(values, starts, stops), stops - starts
    virtual = lengths * 0.75 - 0.75  # (n - 1) q, exact: quarters of small integers
    below = np.floor(virtual).astype(np.int64)
    t = virtual - below
    a = np.take_along_axis(rows, below[:, None], axis=1)[:, 0]
    b = np.take_along_axis(rows, np.minimum(below + 1, lengths - 1)[:, None], axis=1)[:, 0]
    diff = b - a
    return np.where(t >= 0.5, b - diff * (1 - t), a + diff * t)  # numpy's _lerp


def _knee(smooth: np.ndarray, start: int, stop: int, floor_db: float = -np.inf, chunk: int = 64) -> int:
    """First bin in [start, stop) from which the 9-bin-maximum level ``smooth`` (dB) stays :data:`EDGE_KNEE_DB`
    under the band just below it (upper quartile of 0.8-0.95 x the bin), or under ``floor_db``, for 2.5 % of its
    frequency (a gap between partials is not a knee), minus the maximum's 4-bin reach; ``stop`` if none.

    Evaluated ``chunk`` bins at a time, each statistic over all bins of a chunk at once (the same numbers as one
    bin at a time, in a few numpy calls)."""
    first = max(start, 20)
    padded = np.concatenate([smooth, np.full(stop // 40 + 4, -np.inf)])  # a reach past the end sees only smooth
    for chunk_start in range(first, stop, chunk):
        bins = np.arange(chunk_start, min(chunk_start + chunk, stop))
        lo, hi = (0.8 * bins).astype(np.int64), (0.95 * bins).astype(np.int64)
        reference = _slice_upper_quartiles(smooth, lo, hi)
        reach = np.maximum(4, bins // 40)
        top = np.empty(bins.size)
        for width in np.unique(reach):
            same = reach == width
            top[same] = sliding_window_view(padded, int(width))[bins[same]].max(axis=1)
        below = np.flatnonzero(top < np.maximum(reference - EDGE_KNEE_DB, floor_db))
        if below.size:
            return int(bins[below[0]]) - 4
    return stop


def band_edge_bin(x: np.ndarray, n_fft: int = N_FFT, hop: int = HOP, spec: np.ndarray | None = None) -> np.ndarray:
    """The input's band edge per signal (see :func:`band_edge_from_power`): (..., samples) -> int array (...).

    ``n_fft // 2`` (the Nyquist bin) means full band; 0 means silence. ``spec``: ``x``'s :func:`float64_stft`,
    when the caller has it already (the same result, one transform fewer).
    """
    power = interior_power(x, n_fft, hop, spec)
    flat = power.reshape(-1, power.shape[-1])
    return np.array([band_edge_from_power(p) for p in flat], dtype=np.int64).reshape(power.shape[:-1])


def band_edge_hz(x: np.ndarray, sample_rate: int = 44100, n_fft: int = N_FFT, hop: int = HOP) -> np.ndarray:
    """:func:`band_edge_bin` in Hz (bin x sample_rate / n_fft); the Nyquist frequency means full band."""
    return band_edge_bin(x, n_fft, hop) * (sample_rate / n_fft)


def rolloff_ratio(x: np.ndarray, n_fft: int = N_FFT, hop: int = HOP) -> np.ndarray:
    """Spectral roll-off as a ratio in [0, 1]: :func:`rolloff_bin` / (n_fft / 2 + 1). Shape (...), float32."""
    return (rolloff_bin(x, n_fft, hop) / (n_fft // 2 + 1)).astype(np.float32)


def ratio_to_hz(ratio: float | np.ndarray, sample_rate: int = 44100) -> float | np.ndarray:
    """Roll-off ratio -> Hz (ratio x Nyquist)."""
    return ratio * sample_rate / 2


def hz_to_ratio(hz: float, sample_rate: int = 44100) -> float:
    """Hz -> roll-off ratio; raises ValueError outside (0, Nyquist]."""
    nyquist = sample_rate / 2
    if not 0 < hz <= nyquist:
        raise ParameterError(f"roll-off must be in (0, {nyquist:g}] Hz at {sample_rate} Hz, got {hz:g} Hz")
    return float(hz / nyquist)


CROSSOVER_BLEND_BINS = 4  # ~86 Hz at 44.1 kHz / 2048: the input fades out and the model in, above the edge


def crossover_weights(edge_bin: int, bins: int = N_FFT // 2 + 1, blend: int = CROSSOVER_BLEND_BINS) -> np.ndarray:
    """Per-bin weight of the input in the "keep" merge: 1 up to and including ``edge_bin``, a raised cosine
    down to 0 over the next ``blend`` bins, 0 above. (bins,) float64."""
    weights = np.zeros(bins)
    weights[: edge_bin + 1] = 1.0
    ramp = 0.5 * (1.0 + np.cos(np.pi * np.arange(1, blend + 1) / (blend + 1)))
    stop = min(edge_bin + 1 + blend, bins)
    weights[edge_bin + 1 : stop] = ramp[: stop - edge_bin - 1]
    return weights


def merge_low_band(
    restored: np.ndarray | None,
    original: np.ndarray,
    mode: LowBandMode = "keep",
    edge_bins: np.ndarray | None = None,
    original_spec: np.ndarray | None = None,
    restored_spec: np.ndarray | Sequence[np.ndarray] | None = None,
) -> np.ndarray:
    """Combine restored windows with their band-limited input.

    ``restored``, ``original``: (windows, samples). Per window:
    - ``"keep"``: the input's STFT bins up to its band edge (``edge_bins``, default :func:`band_edge_bin` of
      ``original``) are kept unchanged, the model's above, with a :data:`CROSSOVER_BLEND_BINS` raised-cosine
      blend just above the edge (no gap, so no notch);
    - ``"replace"``: the official SAGA-SR post-process: with c the roll-off bin, bins below c are the
      input's divided by the magnitude ratio input/output at bin c, clipped to [0.8, 1.2];
    - ``"off"``: the model output is returned as is.
    ``original_spec``: (windows, bins, frames) :func:`float64_stft` of ``original`` when the caller has it.
    ``restored_spec``: the restored windows as (windows, bins, frames) STFT frames (or a list of (bins, frames))
    instead of samples (pass
    ``restored=None``): merged as they are, without a trip through samples and back.
    Returns float32 (windows, samples).
    """
    if (restored is None) == (restored_spec is None):
        raise ParameterError("merge_low_band: give the restored windows either as samples or as restored_spec "
                             "(exactly one of the two)")
    if mode == "off":
        if restored is None:
            return istft(np.asarray(restored_spec), original.shape[-1]).astype(np.float32)
        return restored.astype(np.float32, copy=False)
    if mode not in ("keep", "replace"):
        raise ParameterError(f"low-band mode must be 'keep', 'replace' or 'off', got {mode!r}")
    if mode == "keep" and edge_bins is None:
        edge_bins = band_edge_bin(original, spec=original_spec)
    n = len(original)
    edges = [None] * n if edge_bins is None else [int(e) for e in edge_bins]
    specs = [None] * n if original_spec is None else list(original_spec)
    samples = [None] * n if restored is None else list(restored)
    outs = [None] * n if restored_spec is None else list(restored_spec)
    return np.stack([_merge_window(r, o, mode, e, sp, so) for r, o, e, sp, so in zip(samples, original, edges, specs, outs)])


def _merge_window(restored: np.ndarray | None, original: np.ndarray, mode: LowBandMode, edge: int | None,
                  spec_in: np.ndarray | None = None, spec_out: np.ndarray | None = None) -> np.ndarray:
    """:func:`merge_low_band` for one window: the restored (samples,) or its STFT ``spec_out``, ``original``
    (samples,) and its float64 STFT ``spec_in`` if known."""
    if mode == "keep":
        assert edge is not None  # merge_low_band measures the edges when none are given
        cutoff = int(edge)
    else:
        cutoff = int(rolloff_bin(original))
    if cutoff <= 0:
        if restored is None:
            assert spec_out is not None  # merge_low_band passes exactly one of the two
            return istft(spec_out, original.shape[-1]).astype(np.float32)
        return restored.astype(np.float32)
    if spec_out is None:
        assert restored is not None
        spec_out = float64_stft(restored)
    if spec_in is None:
        spec_in = float64_stft(original)
    if mode == "keep":
        weights = crossover_weights(cutoff, spec_out.shape[0])[:, None]
        return istft(weights * spec_in + (1.0 - weights) * spec_out, original.shape[-1]).astype(np.float32)
    energy_out = np.abs(spec_out[cutoff]).sum()
    ratio = np.abs(spec_in[cutoff]).sum() / energy_out if energy_out > 0 else 1.0
    spec_out = spec_out.copy()
    spec_out[:cutoff] = spec_in[:cutoff] / min(max(ratio, 0.8), 1.2)
    return istft(spec_out, original.shape[-1]).astype(np.float32)


def high_band_energy(x: np.ndarray, sample_rate: int, cutoff_hz: float, frame: int = 2048, hop: int = 512) -> np.ndarray:
    """Energy above ``cutoff_hz`` per STFT frame: (..., samples) -> (..., frames) float64."""
    spec = stft(np.asarray(x, dtype=np.float64), frame, hop)
    first = int(np.ceil(cutoff_hz / (sample_rate / 2) * (frame // 2)))
    return (np.abs(spec[..., first:, :]) ** 2).sum(axis=-2)


def peak_gain(lr_window: np.ndarray, peak: float, floor: float = 1e-6) -> np.ndarray:
    """Per-window gain that brings the band-limited window's peak to ``peak`` (the model's working level).

    ``lr_window``: (..., samples) -> gain (...) float32; silent windows (peak < ``floor``) get gain 1.
    The model sees ``gain * audio`` (HR and LR alike in training) and its output is divided by the gain.
    """
    level = np.abs(lr_window).max(axis=-1)
    return np.where(level >= floor, peak / np.maximum(level, floor), 1.0).astype(np.float32)
