"""Restoration settings: a dataclass validated once against the model's manifest."""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Callable, Literal, get_args

import numpy as np

from .band_ceiling import is_margin_db
from .band_level import BandLevelFit
from .band_smoothing import DEFAULT_ITERATIONS, is_iterations, is_width_octaves
from .band_trim import GAIN_LIMIT_DB, TILT_LIMIT_DB, is_gain_db, is_tilt_db
from .bundle import MAX_STEPS, Manifest
from .dsp import hz_to_ratio
from .errors import ParameterTypeError, SettingsError
from .options import hz_or_word, number_or_word, option
from .replication import is_share
from .validation import is_real_number, is_whole_number, plain_number

CfgForm = Literal["official", "independent"]
LowBand = Literal["keep", "replace", "off"]
BandLevel = Literal["matched", "power"]
StereoMode = Literal["linked", "mid-side", "independent", "mono"]
ChosenRolloff = Literal["auto", "model"]
Off = Literal["off"]
STEREO_MODES: tuple[str, ...] = get_args(StereoMode)


@dataclass(frozen=True)
class RestoreSettings:
    """What the user chooses. ``None`` means "the bundle's default".

    - ``steps``: Euler steps; ``cfg_acoustic`` / ``cfg_text``: guidance scales s_a and s_t;
    - ``cfg_form``: "official" v0 + s_a (v1 - v0) + s_t (v2 - v1), or "independent" ... + s_t (v2 - v0);
    - ``target_rolloff_hz``: the output roll-off asked of the model (Hz, at least 1000); ``"auto"``: per window the
      input's roll-off plus the bundle's ``auto_rolloff_fraction`` of the distance to Nyquist; ``"model"``: the
      model chooses it from the input (only bundles trained with unknown target roll-offs, see
      ``Defaults.rolloff_unknown_trained``);
    - ``caption``: text guidance ("" for none);
    - ``overlap``: window overlap in samples (a multiple of the model's downsampling, at most half a window;
      ``None`` = the bundle's ``overlap_fraction`` of a window, rounded down to the downsampling; a quarter
      unless the bundle says otherwise; 0 joins windows without a cross-fade, audibly: clicks in the restored band);
    - ``batch_size``: windows per DiT call (each window is 3 rows: the CFG passes);
    - ``seed``: noise seed; ``low_band``: "keep" (exact input below its roll-off), "replace" (official
      energy-ratio replacement) or "off";
    - ``band_level``: "matched" (a noise-excited model's restored band scaled per window so that its log
      spectrum matches the one expected from the octave below the edge, :mod:`sagasr_stream.band_level`; the
      default of bundles that ship the fit, with ``low_band`` "keep" only) or "power" (the band at the power
      the model predicts);
    - ``band_ceiling``: the most (dB) by which a frame's restored band may exceed, relative to the octave below
      the edge, its median over the window's loud frames (:mod:`sagasr_stream.band_ceiling`: the band follows
      the input into decays, gaps and fades), or "off"; the default of bundles that ship
      ``defaults.band_ceiling_db``, with ``low_band`` "keep" only;
    - ``sbr_blend``: how far (0-1, a share of the log magnitude) the restored band moves towards the pattern of
      spectral band replication, whose level per third of an octave is first brought to within ``sbr_level`` of
      the model's (:mod:`sagasr_stream.replication`: the input's onsets and harmonic pattern), or
      "off"; the default of bundles that ship ``defaults.sbr_blend``, with ``low_band`` "keep" only;
    - ``sbr_level``: with ``sbr_blend``, how far (dB) the replica's own level per third of an octave may pull
      the model's (its difference from the model's clipped to +- this, blended in with the same share), or
      "off" (the pattern only); the default of bundles that ship ``defaults.sbr_level_db``;
    - ``band_smoothing``: the width (octaves) over which each restored bin's log magnitude is averaged per frame,
      the decoder's random spread between neighbouring bins removed (:mod:`sagasr_stream.band_smoothing`), or
      "off"; the default of bundles that ship ``defaults.band_smoothing_octaves``, with ``low_band`` "keep" only;
    - ``band_smoothing_iterations``: with ``band_smoothing``, the fast Griffin-Lim iterations that make the
      smoothed band's phases consistent (0: the model's phases); default: the bundle's, else
      :data:`~sagasr_stream.band_smoothing.DEFAULT_ITERATIONS`;
    - ``band_transients``: how far (0-1) the restored band's short-time shape (5.8 ms frames 1.45 ms apart, within
      93 ms) moves towards that of the input's octave below the edge (:mod:`sagasr_stream.band_transients`: a drum
      hit's band follows the hit more closely), or "off"; the default of bundles that ship
      ``defaults.band_transients``, with ``low_band`` "keep" only;
    - ``band_gain`` and ``band_tilt``: the user's trim of the restored band, a level (dB) and a slope (dB per octave
      above the band edge) on top of the model's (:mod:`sagasr_stream.band_trim`); 0 and 0 by default, with
      ``low_band`` "keep" only;
    - ``stereo``: how channels are restored together (:mod:`sagasr_stream.stereo`): "linked" (one restored
      signal per channel pair, each channel's band shaped by its own top octave), "mid-side", "independent"
      (each channel alone) or "mono" (the downmix, restored once, in every channel).
    """

    steps: int | None = option(None, help="Euler steps (default: the bundle's)")
    cfg_acoustic: float | None = option(
        None, help="LR-latent guidance scale s_a (default: the bundle's, see `sagasr info`; 1.4 where it names none)")
    cfg_text: float | None = option(
        None, help="text/roll-off guidance scale s_t (default: the bundle's; 1.2 where it names none)")
    cfg_form: CfgForm = option("official", help="guidance formula")
    target_rolloff_hz: float | ChosenRolloff | None = option(
        None, unit="Hz", parse=hz_or_word("auto", "model"), deprecated_flags=("--target-rolloff",),
        help="wanted output roll-off in Hz (>= 1000), 'auto' (from each window's input roll-off) or 'model' (the "
             "model chooses; bundles trained for it); default: the bundle's")
    caption: str | None = option(None, help="text guidance (default: the bundle's)")
    overlap: int | None = option(
        None, unit="samples", help="window overlap (a multiple of the downsampling; default: the bundle's "
                                   "overlap_fraction of a window, see `sagasr info`; a quarter where it names none; "
                                   "0: no cross-fade, the joins click in the restored band)")
    batch_size: int = option(4, unit="windows", help="windows per DiT call")
    seed: int = option(0, help="noise seed")
    low_band: LowBand = option("keep", help="what to do below the input's cutoff")
    band_level: BandLevel | None = option(
        None, help="restored band level: matched (a noise-excited model's band scaled to the log spectrum the "
                   "octave below the edge implies) or power (as the model predicts); default: the bundle's")
    band_ceiling: float | Off | None = option(
        None, unit="dB", parse=number_or_word("a level in dB", "off"),
        help="how far (dB) a frame's restored band may rise, relative to the octave below the edge, above its "
             "level in the window's loud frames (the band follows the input into decays and gaps), or 'off'; "
             "default: the bundle's")
    sbr_blend: float | Off | None = option(
        None, parse=number_or_word("a share in [0, 1]", "off"),
        help="share (0-1, of the log magnitude) of the pattern of spectral band replication blended into the "
             "restored band at the model's level (the input's onsets and harmonic pattern), or 'off'; default: the "
             "bundle's")
    sbr_level: float | Off | None = option(
        None, unit="dB", parse=number_or_word("a level in dB", "off"),
        help="with the SBR blend: how far (dB) the replica's own level per third of an octave may pull the "
             "model's (blended with the same share), or 'off' (the pattern only); default: the bundle's")
    band_smoothing: float | Off | None = option(
        None, unit="octaves", parse=number_or_word("a width in octaves", "off"),
        help="per frame, each restored bin's log magnitude averaged over this many octaves around it (the "
             "decoder's random spread between bins removed), or 'off'; default: the bundle's")
    band_smoothing_iterations: int | None = option(
        None, unit="iterations",
        help="with band smoothing: fast Griffin-Lim iterations that make the smoothed band's phases consistent "
             "(0: the model's phases; more: closer, slower); default: the bundle's, else 8")
    band_transients: float | Off | None = option(
        None, parse=number_or_word("a share in [0, 1]", "off"),
        help="share (0-1) of the way the restored band's short-time shape (5.8 ms frames, 1.45 ms apart) moves "
             "towards that of "
             "the input's octave below the edge (its onsets follow the input's), or 'off'; default: the "
             "bundle's")
    band_gain: float = option(
        0.0, unit="dB", help="trim of the restored band's level on top of the model's (+-24 dB): where it sounds "
                             "too bright, negative")
    band_tilt: float = option(
        0.0, unit="dB/octave", help="trim of the restored band's slope, per octave above the band edge (+-12 dB): "
                                    "negative darkens its top more than its bottom")
    stereo: StereoMode = option(
        "linked", choices=STEREO_MODES,
        help="how channels are restored together: linked (one restored band per pair, each channel's level and "
             "coherence kept), mid-side, independent (each channel alone) or mono (the downmix in every channel)")

    def with_(self, **changes: object) -> "RestoreSettings":
        """A copy with some fields changed (``None`` values are ignored)."""
        kept: dict[str, Any] = {k: v for k, v in changes.items() if v is not None}  # resolve() checks the values
        return replace(self, **kept)


# With target_rolloff_hz "auto" or "model": a window whose band edge reaches this is complete and passes through.
# 20 kHz, not 16: a band cut at 16 kHz (a lossy codec's low-pass; the edge reads 16-17.5 kHz) has a sixth of
# its spectrum missing, and restoring it beats leaving it (model card, "Other cutoffs").
AUTO_COMPLETE_BAND_HZ = 20000.0
MAX_BATCH_SIZE = 1024  # windows per DiT call
ROLLOFF_UNKNOWN = 0.0  # the target roll-off ratio fed for "model": "not given" (training hides some targets so)
CHOSEN_ROLLOFFS = ("auto", "model")  # target_rolloff_hz values that are not a frequency
# The lowest target roll-off a user may ask for: a window whose band edge reaches the target passes through, so a
# lower one restores nothing, silently; below it is kHz typed for Hz (16 for 16000).
MIN_TARGET_ROLLOFF_HZ = 1000.0


@dataclass(frozen=True)
class ResolvedSettings:
    """Settings with every default filled in from the manifest and every value checked.

    The window length is not copied here: it belongs to the model (``manifest.window_samples``); the
    window plan is made from both by :class:`sagasr_stream.restorer.Restorer`.
    """

    steps: int
    cfg_acoustic: float
    cfg_text: float
    cfg_form: CfgForm
    target_rolloff: float | None      # ratio in (0, 1]; None: "auto" or "model" (see :meth:`target_rolloffs`)
    target_rolloff_hz: float | str
    caption: str
    overlap: int
    batch_size: int
    seed: int
    low_band: LowBand

    auto_rolloff_fraction: float = 0.2
    stereo: StereoMode = "linked"
    band_level: BandLevelFit | None = None  # the fit that scales each restored band; None: "power"
    band_ceiling_db: float | None = None    # the quiet-frame ceiling's margin (dB); None: off
    sbr_blend: float | None = None          # the share of band replication's pattern in the restored band; None: off
    sbr_level_db: float = 0.0               # with sbr_blend: the bound on the replica's level pull (dB); 0: pattern only
    band_smoothing_octaves: float | None = None  # the restored band's log-magnitude smoothing width; None: off
    band_smoothing_iterations: int = 0           # with band smoothing: Griffin-Lim iterations for its phases
    band_gain_db: float = 0.0                    # the user's trim of the restored band's level (dB)
    band_tilt_db: float = 0.0                    # ... and of its slope (dB per octave above the edge)
    band_transients: float | None = None         # share of the input's short-time shape in the band's; None: off

    @property
    def trims_band(self) -> bool:
        """Whether the user's band trim changes anything."""
        return self.band_gain_db != 0.0 or self.band_tilt_db != 0.0

    @property
    def complete_band_hz(self) -> float:
        """A window whose band edge reaches this (Hz) has nothing missing: the fixed target roll-off, or for
        "auto" and "model" :data:`AUTO_COMPLETE_BAND_HZ`."""
        return AUTO_COMPLETE_BAND_HZ if self.target_rolloff is None else float(self.target_rolloff_hz)

    def target_rolloffs(self, rolloff_in: np.ndarray) -> np.ndarray:
        """Target roll-off ratios (n,) float32 for windows whose input roll-off ratios are ``rolloff_in`` (n,):
        the fixed target; for "auto" ``rolloff_in + auto_rolloff_fraction * (1 - rolloff_in)``; for "model"
        :data:`ROLLOFF_UNKNOWN`."""
        rolloff_in = np.asarray(rolloff_in, dtype=np.float32)
        if self.target_rolloff is not None:
            return np.full(rolloff_in.shape, self.target_rolloff, dtype=np.float32)
        if self.target_rolloff_hz == "model":
            return np.full(rolloff_in.shape, ROLLOFF_UNKNOWN, dtype=np.float32)
        return (rolloff_in + self.auto_rolloff_fraction * (1.0 - rolloff_in)).astype(np.float32)


def resolve(settings: RestoreSettings, manifest: Manifest) -> ResolvedSettings:
    """Fill defaults from ``manifest`` and validate; raises :class:`SettingsError` (a ValueError) naming the bad
    setting, the value given and what it accepts.

    A number is an int or float (numpy integer and floating scalars count as the Python number; a bool, a string
    or a list does not); the words some fields accept ("off", "auto", ...) are strings."""
    if not isinstance(settings, RestoreSettings):
        raise ParameterTypeError(f"settings must be a RestoreSettings, got {type(settings).__name__} "
                                 "(e.g. RestoreSettings(steps=2))")
    settings = _plain_numbers(settings)
    d = manifest.defaults
    steps = d.steps if settings.steps is None else settings.steps
    if not is_whole_number(steps) or not 1 <= steps <= MAX_STEPS:
        raise SettingsError(f"steps must be an integer in 1..{MAX_STEPS}, got {steps!r}")
    cfg_a = _guidance_scale("cfg_acoustic", settings.cfg_acoustic, d.cfg_acoustic)
    cfg_t = _guidance_scale("cfg_text", settings.cfg_text, d.cfg_text)
    if settings.cfg_form not in ("official", "independent"):
        raise SettingsError(f"cfg_form must be 'official' or 'independent', got {settings.cfg_form!r}")
    rolloff, rolloff_hz = resolve_target_rolloff(settings.target_rolloff_hz, manifest)
    if not 0.0 <= d.auto_rolloff_fraction <= 1.0:
        raise SettingsError(f"the bundle's auto_rolloff_fraction must be in [0, 1], got {d.auto_rolloff_fraction}")
    caption = (d.caption or "") if settings.caption is None else settings.caption
    if not isinstance(caption, str):
        raise SettingsError(f"caption must be a string ('' for none) or None (the bundle's), got {caption!r}")
    if caption and "text_encoder" not in manifest.graphs:
        raise SettingsError(f"model {manifest.name!r} has no text encoder: a caption cannot be used")
    overlap = resolve_overlap(settings.overlap, manifest)
    if not is_whole_number(settings.batch_size) or not 1 <= settings.batch_size <= MAX_BATCH_SIZE:
        raise SettingsError(f"batch_size must be an integer in 1..{MAX_BATCH_SIZE}, got {settings.batch_size!r}")
    if not is_whole_number(settings.seed) or settings.seed < 0:
        raise SettingsError(f"seed must be a non-negative integer, got {settings.seed!r}")
    if settings.low_band not in ("keep", "replace", "off"):
        raise SettingsError(f"low_band must be 'keep', 'replace' or 'off', got {settings.low_band!r}")
    if settings.stereo not in STEREO_MODES:
        raise SettingsError(f"stereo must be one of {', '.join(map(repr, STEREO_MODES))}, got {settings.stereo!r}")
    return ResolvedSettings(
        steps, cfg_a, cfg_t, settings.cfg_form, rolloff, rolloff_hz, caption, overlap,
        settings.batch_size, settings.seed, settings.low_band, float(d.auto_rolloff_fraction), settings.stereo,
        resolve_band_level(settings, manifest), resolve_band_ceiling(settings, manifest),
        *resolve_sbr_blend(settings, manifest), *resolve_band_smoothing(settings, manifest),
        *resolve_band_trim(settings), resolve_band_transients(settings, manifest),
    )


def _plain_numbers(settings: RestoreSettings) -> RestoreSettings:
    """``settings`` with every numpy integer or floating scalar replaced by the Python number it holds (so that
    ``steps=np.int64(4)`` is 4, and the resolved settings hold Python numbers only)."""
    plain: dict[str, Any] = {f.name: plain_number(getattr(settings, f.name)) for f in fields(settings)}
    return replace(settings, **plain)


def _guidance_scale(name: str, value: object, default: float) -> float:
    """A guidance scale (``cfg_acoustic`` / ``cfg_text``): a number in [0, 20]; ``None``: the bundle's ``default``."""
    value = float(default) if value is None else value
    if not (is_real_number(value) and 0.0 <= value <= 20.0):
        raise SettingsError(f"{name} must be a number in [0, 20], got {value!r}")
    return float(value)


def resolve_target_rolloff(value: object, manifest: Manifest) -> tuple[float | None, float | str]:
    """The target roll-off as (ratio, Hz), or (None, "auto" / "model"): ``value`` is a frequency in Hz (a
    number in (0, Nyquist]), "auto" or "model" (only for a bundle trained to choose it); ``None``: the bundle's."""
    d = manifest.defaults
    if value is None:
        value = d.target_rolloff_hz
    elif not (is_real_number(value) or (isinstance(value, str) and value in CHOSEN_ROLLOFFS)):
        raise SettingsError(
            f"target_rolloff_hz must be a frequency in Hz (a number), 'auto' or 'model', got {value!r}")
    elif is_real_number(value) and value < MIN_TARGET_ROLLOFF_HZ:
        raise SettingsError(
            f"target_rolloff_hz is in Hz and at least {MIN_TARGET_ROLLOFF_HZ:g} (16 kHz is 16000), got {value!r}: "
            "a window whose band edge reaches the target passes through, so a lower one restores nothing")
    if value == "model" and not d.rolloff_unknown_trained:
        raise SettingsError(
            f"target_rolloff_hz 'model': model {manifest.name!r} was not trained to choose the roll-off; give Hz or 'auto'"
        )
    if isinstance(value, str) and value in CHOSEN_ROLLOFFS:
        return None, value
    try:
        hz = float(value)  # the bundle's own default
    except (TypeError, ValueError):
        raise SettingsError(
            f"target_rolloff_hz: expected a frequency in Hz, 'auto' or 'model', got {value!r}"
        ) from None
    try:
        return hz_to_ratio(hz, manifest.sample_rate), hz
    except ValueError as exc:
        raise SettingsError(f"target_rolloff_hz: {exc}") from None


def resolve_overlap(overlap: object, manifest: Manifest) -> int:
    """The window overlap (samples): a multiple of the downsampling in [0, half a window]; ``None``: the
    bundle's ``overlap_fraction`` of a window, rounded down to the downsampling."""
    window, ds = manifest.window_samples, manifest.downsampling
    fraction = manifest.defaults.overlap_fraction
    if not 0.0 <= fraction <= 0.5:
        raise SettingsError(f"the bundle's overlap_fraction must be in [0, 0.5], got {fraction}")
    if overlap is None:
        overlap = int(window * fraction) // ds * ds
    if not is_whole_number(overlap) or not 0 <= overlap <= window // 2 or overlap % ds:
        raise SettingsError(
            f"overlap must be a multiple of {ds} samples between 0 and {window // 2} (half a window), got {overlap!r}"
        )
    return int(overlap)


def resolve_band_level(settings: RestoreSettings, manifest: Manifest) -> BandLevelFit | None:
    """The fit that scales each restored band, or ``None`` ("power"). "matched" needs a bundle that ships the
    fit and ``low_band`` "keep" (the other modes give the model's output as it is); by default it is on
    exactly then."""
    fit = manifest.defaults.band_level
    if settings.band_level not in (None, "matched", "power"):
        raise SettingsError(f"band_level must be 'matched' or 'power', got {settings.band_level!r}")
    if settings.band_level == "matched":
        if fit is None:
            raise SettingsError(f"band_level 'matched': model {manifest.name!r} ships no band level fit; use 'power'")
        if settings.low_band != "keep":
            raise SettingsError(f"band_level 'matched' needs low_band 'keep', got {settings.low_band!r}")
    if settings.band_level == "power" or fit is None or settings.low_band != "keep":
        return None
    return BandLevelFit.from_dict(fit)


def resolve_band_ceiling(settings: RestoreSettings, manifest: Manifest) -> float | None:
    """The quiet-frame ceiling's margin (dB), or ``None`` (off): see :func:`_restored_band_option`."""
    return _restored_band_option(settings, "band_ceiling", settings.band_ceiling, manifest.defaults.band_ceiling_db,
                                 is_margin_db, "a level in dB >= 0")


def resolve_sbr_blend(settings: RestoreSettings, manifest: Manifest) -> tuple[float | None, float]:
    """The share of band replication in the restored band, or ``None`` (off, also for a share of 0), and the bound
    (dB) on its level pull (0: the pattern only): see :func:`_restored_band_option`. An ``sbr_level`` given with
    the blend off is an error."""
    share = _restored_band_option(settings, "sbr_blend", settings.sbr_blend, manifest.defaults.sbr_blend,
                                  is_share, "a share in [0, 1]") or None
    level = _restored_band_option(settings, "sbr_level", settings.sbr_level, manifest.defaults.sbr_level_db,
                                  is_margin_db, "a level in dB >= 0")
    if share is None and settings.sbr_level not in (None, "off"):
        raise SettingsError(f"sbr_level {settings.sbr_level!r} needs the SBR blend on (sbr_blend is off)")
    if share is None:
        return None, 0.0
    return share, level or 0.0


def resolve_band_smoothing(settings: RestoreSettings, manifest: Manifest) -> tuple[float | None, int]:
    """The band smoothing's width (octaves), or ``None`` (off; see :func:`_restored_band_option`), and its
    Griffin-Lim iterations (0 when off). Iterations given with the smoothing off are an error."""
    d = manifest.defaults
    width = _restored_band_option(settings, "band_smoothing", settings.band_smoothing, d.band_smoothing_octaves,
                                  is_width_octaves, "a width in octaves in (0, 2]")
    iterations = settings.band_smoothing_iterations
    if iterations is not None and not is_iterations(iterations):
        raise SettingsError(f"band_smoothing_iterations must be an integer in [0, 100], got {iterations!r}")
    if width is None:
        if iterations is not None:
            raise SettingsError(f"band_smoothing_iterations {iterations!r} needs band smoothing on "
                                "(band_smoothing is off)")
        return None, 0
    if iterations is None:
        iterations = DEFAULT_ITERATIONS if d.band_smoothing_iterations is None else d.band_smoothing_iterations
    return width, iterations


def resolve_band_transients(settings: RestoreSettings, manifest: Manifest) -> float | None:
    """The share of the input's transients in the restored band's shape, or ``None`` (off, also for a share of
    0): see :func:`_restored_band_option`."""
    return _restored_band_option(settings, "band_transients", settings.band_transients,
                                 manifest.defaults.band_transients, is_share, "a share in [0, 1]") or None


def resolve_band_trim(settings: RestoreSettings) -> tuple[float, float]:
    """The user's band gain (dB) and tilt (dB per octave), checked; other than 0 they need ``low_band`` "keep"."""
    if not is_gain_db(settings.band_gain):
        raise SettingsError(f"band_gain must be a level in dB within +-{GAIN_LIMIT_DB:g}, got {settings.band_gain!r}")
    if not is_tilt_db(settings.band_tilt):
        raise SettingsError(f"band_tilt must be a slope in dB per octave within +-{TILT_LIMIT_DB:g}, "
                            f"got {settings.band_tilt!r}")
    gain, tilt = float(settings.band_gain), float(settings.band_tilt)
    if (gain or tilt) and settings.low_band != "keep":
        raise SettingsError(f"band_gain and band_tilt need low_band 'keep', got {settings.low_band!r}")
    return gain, tilt


def _restored_band_option(settings: RestoreSettings, name: str, value: float | str | None, default: float | None,
                          valid: Callable[[object], bool], what: str) -> float | None:
    """A number that reshapes the restored band against the input's band edge, or ``None`` (off): "off"; by
    default the bundle's ``default``. It needs ``low_band`` "keep" (the other modes give the model's output as it
    is), and is off by default in the others."""
    if value == "off":
        return None
    if value is None:
        return None if default is None or settings.low_band != "keep" else float(default)
    if not valid(value):
        raise SettingsError(f"{name} must be {what} or 'off', got {value!r}")
    if settings.low_band != "keep":
        raise SettingsError(f"{name} needs low_band 'keep', got {settings.low_band!r}")
    return float(value)
