"""Stereo modes: how the channels of one window are restored together (``RestoreSettings.stereo``).

A :class:`StereoWindows` wraps the per-signal window function (:class:`~sagasr_stream.engine.WindowRestorer`)
in one place: it receives every channel's job of a group of windows, decides which signals the model restores
and returns each channel's restored window.

- ``"independent"``: every channel on its own, with its own noise (the behaviour before stereo modes).
- ``"linked"`` (default): channels in pairs (0, 1), (2, 3) ...; one signal per pair and window is restored:
  the mid (L + R) / 2, or the side (L - R) / 2 when the side is the louder (opposite-polarity channels; a DC
  offset does not count, and the pair is linked and merged without the channels' offsets, put back after).
  The other of mid/side gets the restored band by its own relation to the restored one in the octave just
  below the pair's band edge, per STFT frame (2048 points, hop 512): ``other_band = beta * band + rho *
  decorrelated(band)`` with ``beta`` the regression of the other on the restored signal and ``rho`` the rest of
  its level. So each channel's restored band has the level and the inter-channel coherence that its top octave
  below the edge has (a panned source keeps its pan, a centred one stays centred, a wide one stays wide). The
  decorrelated band is the restored band with a random phase per frequency bin, fixed per (seed, pair), at
  the restored band's level frame by frame: deterministic and the same in every window, so results do not
  depend on block size.
- ``"mid-side"``: mid and side restored as two signals; the side is restored only where it has a band to
  extend (a silent or full-band side passes as it is); L = M + S, R = M - S. A shaped-noise band does not change
  sign with its input, so the side's band is given the mid's relation to it: where mid and side are coherent in
  the octave below the edge (|coherence| >= :data:`MS_COHERENT`: a panned source) the side is restored with the
  mid's noise and the sign of that coherence, so a source panned hard to one side keeps the other silent; else
  (a wide pair) with noise of its own, so neither channel gets the coherent sum of the two bands.
- ``"mono"``: all channels downmixed (their mean), restored once, and the result written to every channel.

In ``linked`` and ``mid-side`` each channel keeps its own input up to its own band edge (the low-band merge
of :func:`~sagasr_stream.dsp.merge_low_band`). An odd last channel is restored alone; a window where both
channels of a pair have nothing missing passes unchanged. Identical channels come out identical, bit for
bit (their side is zero: the restored mid goes to both), and opposite channels come out opposite; one channel
gives the mono result in every mode.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .bandlimit import SignalBandLimit, least_limiting
from .dsp import N_FFT, float64_stft, istft, merge_low_band, stft
from .engine import SILENCE, WindowFn, WindowJob, WindowRestorer, without_dc
from .settings import STEREO_MODES, StereoMode

PHASE_KEY = 0x57E2E0  # the decorrelator's rng key, apart from the sampler's (seed, channel, frame) keys
MS_COHERENT = 0.5  # "mid-side": above this |coherence| of mid and side below the edge, the side's band is the mid's
MAX_RELATIVE = 8.0  # the other of mid/side at most this many times the restored one's level (~18 dB)


def channel_groups(channels: int, mode: str) -> list[tuple[int, ...]]:
    """Which channels are restored together: all in one group ("mono"), pairs (0, 1), (2, 3) ... and an
    odd last channel alone ("linked", "mid-side"), every channel alone ("independent")."""
    if mode == "mono":
        return [tuple(range(channels))]
    if mode == "independent":
        return [(c,) for c in range(channels)]
    return [tuple(range(c, min(c + 2, channels))) for c in range(0, channels, 2)]


def signals_per_window(channels: int, mode: str) -> int:
    """How many signals the model restores per window index (a pair in "mid-side" restores two)."""
    groups = channel_groups(channels, mode)
    return sum(2 if (mode == "mid-side" and len(g) == 2) else 1 for g in groups)


def mid_side(pair: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(2, samples) float32 -> mid (L + R) / 2 and side (L - R) / 2, float32 (exact for L = R and L = -R)."""
    half = np.float32(0.5)
    return (half * (pair[0] + pair[1])).astype(np.float32), (half * (pair[0] - pair[1])).astype(np.float32)


def decorrelating_phase(seed: int, channel: int, bins: int = N_FFT // 2 + 1) -> np.ndarray:
    """(bins,) complex128 unit phasors, uniform random phase per bin, keyed by (seed, channel) only."""
    phase = np.random.default_rng([seed, channel, PHASE_KEY]).uniform(0.0, 2.0 * np.pi, bins)
    return np.exp(1j * phase)


@dataclass
class _Plan:
    """What one channel group of one window needs: its channels and the indices of its restored signals."""

    channels: tuple[int, ...]
    kind: str  # "pass", "alone", "mono", "linked-mid", "linked-side", "ms"
    signals: tuple[int, ...] = ()
    edges: np.ndarray | None = None  # (2,) the pair's band edge bins
    mid: np.ndarray | None = None  # (samples,) float32 mid and side of the pair's input (made once, in _plan)
    side: np.ndarray | None = None
    spec: np.ndarray | None = None  # (2, bins, frames) the pair's float64 STFT (band edges, then the low-band merge)
    side_sign: float = 1.0  # "ms": the side was restored as side_sign x side (its band given the mid's sign)


class StereoWindows:
    """A window function (``WindowFn``) that restores a window's channels together as ``mode`` says.

    ``restorer``: the per-signal window function (its ``edge_bins``/``complete`` decide what is missing);
    ``channels``: the stream's channel count. Jobs arrive as the processor makes them: for each window index,
    one job per channel; the result is one (window,) float32 array per job, in the same order.
    """

    def __init__(self, restorer: WindowRestorer, mode: str, channels: int) -> None:
        self.restorer = restorer
        self.mode = mode
        self.channels = channels
        self.groups = channel_groups(channels, mode)
        self.signals_per_window = signals_per_window(channels, mode)
        settings = restorer.settings
        self.seed, self.low_band = settings.seed, settings.low_band

    def __call__(self, jobs: list[WindowJob]) -> list[np.ndarray]:
        if self.mode == "independent" or self.channels == 1:
            return self.restorer(jobs)
        by_index: dict[int, dict[int, np.ndarray]] = {}
        limits: dict[int, dict[int, SignalBandLimit | None]] = {}
        valid: dict[int, int | None] = {}  # signal samples of each window (the same in every channel)
        for job in jobs:
            by_index.setdefault(job.index, {})[job.channel] = np.asarray(job.audio, dtype=np.float32)
            limits.setdefault(job.index, {})[job.channel] = job.signal_limit
            valid[job.index] = job.valid
        signals: list[WindowJob] = []
        plans: list[tuple[int, _Plan]] = []
        for index, audio in by_index.items():
            for group in self.groups:
                plans.append((index, self._plan(index, group, audio, signals, limits[index], valid[index])))
        restored = self.restorer(signals) if signals else []
        out: dict[tuple[int, int], np.ndarray] = {}
        for index, plan in plans:
            audio = by_index[index]
            for channel, result in zip(plan.channels, self._assemble(plan, audio, restored)):
                out[(channel, index)] = result
        return [out[(job.channel, job.index)] for job in jobs]

    def _plan(self, index: int, group: tuple[int, ...], audio: dict[int, np.ndarray], signals: list[WindowJob],
              limits: dict[int, SignalBandLimit | None], valid: int | None = None) -> _Plan:
        """Queue the signals ``group`` needs restored for window ``index`` into ``signals`` (``limits``: each
        channel's signal band limit; a signal mixed from several channels takes the least limiting; ``valid``:
        the window's signal samples, see :class:`WindowJob`)."""
        mixed = least_limiting([limits[c] for c in group])

        def add(channel: int, samples: np.ndarray, spec: np.ndarray | None = None, edge: int | None = None) -> int:
            limit = limits[channel] if len(group) == 1 else mixed
            signals.append(WindowJob(channel, index, samples, spec, edge, limit, valid))
            return len(signals) - 1

        first = group[0]
        if self.mode == "mono":
            downmix = np.sum([audio[c] for c in group], axis=0, dtype=np.float32) / np.float32(len(group))
            return _Plan(group, "mono", (add(0, downmix.astype(np.float32)),))
        if len(group) == 1:
            return _Plan(group, "alone", (add(first, audio[first]),))
        pair = np.stack([audio[group[0]], audio[group[1]]])
        spec = float64_stft(pair)
        edges = self.restorer.edge_bins(pair, spec, [limits[group[0]], limits[group[1]]], [valid, valid])
        if not ((np.abs(pair).max(axis=1) >= SILENCE) & ~self.restorer.complete(edges)).any():
            return _Plan(group, "pass")  # nothing missing in either channel
        mid, side = mid_side(pair)
        if self.mode == "mid-side":
            coherence = mid_side_coherence(spec, linked_edge(edges))
            sign = -1.0 if coherence < 0 else 1.0
            if abs(coherence) >= MS_COHERENT or not (mid.any() and side.any()):  # the mid's noise, its sign
                signals_ = (add(first, mid), add(first, side if sign > 0 else -side))
            else:  # a wide pair: the side's own noise
                sign, signals_ = 1.0, (add(first, mid), add(group[1], side))
            return _Plan(group, "ms", signals_, edges, mid, side, spec, side_sign=sign)
        # the restored one of mid/side: its STFT is the pair's, (L +- R) / 2, and its band edge the pair's lower one
        edge = linked_edge(edges)
        if float(np.var(side, dtype=np.float64)) > float(np.var(mid, dtype=np.float64)):  # the louder, DC aside
            return _Plan(group, "linked-side", (add(first, side, 0.5 * (spec[0] - spec[1]), edge),), edges, mid, side, spec)
        return _Plan(group, "linked-mid", (add(first, mid, 0.5 * (spec[0] + spec[1]), edge),), edges, mid, side, spec)

    def _assemble(self, plan: _Plan, audio: dict[int, np.ndarray], restored: list[np.ndarray]) -> list[np.ndarray]:
        """Each channel of ``plan``'s group, restored."""
        if plan.kind == "pass":
            return [audio[c] for c in plan.channels]
        if plan.kind in ("alone", "mono"):
            return [restored[plan.signals[0]]] * len(plan.channels)
        original = np.stack([audio[plan.channels[0]], audio[plan.channels[1]]])
        mid, side = plan.mid, plan.side
        assert mid is not None and side is not None
        if not side.any():  # identical channels: the restored mid (= either channel) goes to both
            return [restored[plan.signals[0]]] * 2
        if not mid.any():  # opposite channels: the restored side (= the left channel) and its negative
            return [restored[plan.signals[-1]], -restored[plan.signals[-1]]]
        assert plan.edges is not None
        if plan.kind == "ms":
            m, s = restored[plan.signals[0]], np.float32(plan.side_sign) * restored[plan.signals[1]]
            pair = np.stack([m + s, m - s])
            if self.low_band == "off":
                return list(pair.astype(np.float32))
            return list(merge_low_band(pair, original, self.low_band, plan.edges, plan.spec))
        # linked without the pair's DC offsets (as the engine restores each signal), put back after the merge
        assert plan.spec is not None  # a linked plan keeps the pair's STFT
        offsets, centred, spec = without_dc(original, plan.spec)
        signal_offset = 0.5 * (offsets[0] + offsets[1] if plan.kind == "linked-mid" else offsets[0] - offsets[1])
        signal = restored[plan.signals[0]] - signal_offset
        spectra = self._linked(plan, signal, spec)
        merged = (merge_low_band(None, centred, self.low_band, plan.edges, spec, restored_spec=spectra)
                  + offsets).astype(np.float32)
        silent = ~original.any(axis=1)  # a digitally silent channel has no octave for a band to follow: kept as is
        merged[silent] = original[silent]  # (rounding in the relation left ~1e-9, which 16-bit dither made noise)
        return list(merged)

    def _linked(self, plan: _Plan, restored: np.ndarray, spec: np.ndarray) -> np.ndarray:
        """(2, bins, frames): the pair's STFT from the restored mid (or side) and the other's per-frame relation
        to it (the mid's and side's STFTs are the pair's ``spec``, (L +- R) / 2)."""
        on_mid = plan.kind == "linked-mid"
        assert plan.edges is not None
        half = 0.5 * (spec[0] + spec[1]), 0.5 * (spec[0] - spec[1])
        reference, other = half if on_mid else half[::-1]
        edge = linked_edge(plan.edges)
        band = float64_stft(restored)
        beta, rho = octave_relation(reference, other, edge)
        decorrelated = decorrelate(band, restored.shape[-1], decorrelating_phase(self.seed, plan.channels[0], band.shape[0]), edge)
        synthetic = beta[None, :] * band + rho[None, :] * decorrelated
        return np.stack([band + synthetic, band - synthetic] if on_mid else [synthetic + band, synthetic - band])


def mid_side_coherence(spec: np.ndarray, edge_bin: int) -> float:
    """Re <M S*> / sqrt(<|M|^2> <|S|^2>) of a pair's mid and side over the octave below ``edge_bin`` and every
    frame (``spec``: the pair's (2, bins, frames) STFT): +1 for a source panned hard left (M = S), -1 hard right,
    near 0 for a wide pair; 0 where either is silent there."""
    band = slice(max(1, edge_bin // 2), max(2, edge_bin))
    mid, side = 0.5 * (spec[0, band] + spec[1, band]), 0.5 * (spec[0, band] - spec[1, band])
    power = float(np.sum(np.abs(mid) ** 2) * np.sum(np.abs(side) ** 2))
    return float(np.sum(mid * np.conj(side)).real / np.sqrt(power)) if power > 0 else 0.0


def linked_edge(edges: np.ndarray) -> int:
    """The band edge bin of a linked pair whose channels' edges are ``edges`` (2,): the lower of the sounding
    channels' (a silent channel, edge 0, says nothing about the band); Nyquist when both are silent."""
    sounding = edges[edges > 0]
    return int(sounding.min()) if sounding.size else N_FFT // 2


def decorrelate(spec: np.ndarray, length: int, phasors: np.ndarray, edge_bin: int) -> np.ndarray:
    """A signal like ``spec`` (bins, frames) but uncorrelated with it: each bin turned by ``phasors`` (bins,), back
    to samples and analysed again (so it is the STFT of a real signal), each frame scaled to ``spec``'s power
    from ``edge_bin`` up (the phase turn spreads each frame over its neighbours and loses ~3 dB on overlap-add)."""
    turned = stft(istft(spec * phasors[:, None], length))
    want = (np.abs(spec[edge_bin:]) ** 2).sum(axis=0)
    have = (np.abs(turned[edge_bin:]) ** 2).sum(axis=0)
    gain = np.sqrt(np.divide(want, have, out=np.zeros_like(want), where=have > 1e-30 * max(float(want.max(initial=0.0)), 1e-30)))
    return turned * gain[None, :]


def octave_relation(reference: np.ndarray, other: np.ndarray, edge_bin: int) -> tuple[np.ndarray, np.ndarray]:
    """Per STFT frame, how ``other`` relates to ``reference`` in the octave below ``edge_bin``.

    ``reference``, ``other``: (bins, frames) complex STFTs. Returns (beta, rho), each (frames,) float64:
    ``beta`` = Re <other, reference> / |reference|^2 (the regression) and ``rho`` = the remaining level of
    ``other`` relative to ``reference`` (sqrt of its power ratio minus beta^2, >= 0); both limited to
    :data:`MAX_RELATIVE`. A silent reference octave gives 0, 0.
    """
    lo, hi = max(1, edge_bin // 2), max(2, edge_bin)
    ref, oth = reference[lo:hi], other[lo:hi]
    power_ref = (np.abs(ref) ** 2).sum(axis=0)
    power_other = (np.abs(oth) ** 2).sum(axis=0)
    cross = np.real(oth * np.conj(ref)).sum(axis=0)
    floor = 1e-12 * max(float(power_ref.max(initial=0.0)), float(power_other.max(initial=0.0)), 1e-30)
    live = power_ref > floor
    safe = np.where(live, power_ref, 1.0)
    beta = np.where(live, cross / safe, 0.0)
    rho = np.sqrt(np.maximum(np.where(live, power_other / safe - beta**2, 0.0), 0.0))
    return np.clip(beta, -MAX_RELATIVE, MAX_RELATIVE), np.minimum(rho, MAX_RELATIVE)


def stereo_window_fn(restorer: WindowRestorer, channels: int) -> WindowFn:
    """The window function for ``channels`` under ``restorer.settings.stereo``: ``restorer`` itself in
    "independent" mode or for one channel (bit-identical to restoring every channel alone)."""
    mode = restorer.settings.stereo
    if mode == "independent" or channels == 1:
        return restorer
    return StereoWindows(restorer, mode, channels)


__all__ = ["STEREO_MODES", "StereoMode", "StereoWindows", "channel_groups", "stereo_window_fn"]
