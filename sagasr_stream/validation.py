"""Input validation at the edge: dtype, shape/layout, finiteness and sample rate.

This module is the one place that decides an input's layout: numpy's (1-D mono or 2-D with the smaller
dimension as channels, :func:`prepare_audio`), a stream's blocks (1-D for mono or (channels, samples),
:func:`stream_block`) and pedalboard's rules with their cache (:class:`LayoutTracker`, :func:`planar_input`).
Past this edge everything is planar (channels, samples) float32. Every check raises an
:mod:`sagasr_stream.errors` exception that names the problem.
"""
from __future__ import annotations

import math
import os
from typing import Literal, TypeGuard, Union, get_args

import numpy as np

from .errors import AudioInputError, AudioTypeError, ParameterError, ParameterTypeError

Layout = Literal["mono", "channels_first", "channels_last"]
LAYOUTS: tuple[str, ...] = get_args(Layout)
RealNumber = Union[int, float, np.integer, np.floating]  # what is_real_number accepts (finite, not a bool)
WholeNumber = Union[int, np.integer]  # what is_whole_number accepts (not a bool)

MIN_RATE = 1000
MAX_RATE = 768000


def is_real_number(value: object) -> TypeGuard[RealNumber]:
    """Whether ``value`` is a finite int or float, numpy scalars included (a bool is not a number here): what
    every numeric setting checks before its own range."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond float's range (10 ** 400) is no finite float either
        return False


def plain_number(value: object) -> object:
    """A numpy integer or floating scalar as the Python int or float it holds; anything else unchanged (a numpy
    bool stays a numpy bool, so that it is refused where a number is expected)."""
    return value.item() if isinstance(value, (np.integer, np.floating)) else value


def is_whole_number(value: object) -> TypeGuard[WholeNumber]:
    """Whether ``value`` is an int or a numpy integer (not a bool, not a float such as 2.0)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def check_path(value: object, name: str) -> "os.PathLike[str] | str":
    """Accept a str or os.PathLike (a file's path); anything else raises :class:`ParameterTypeError` naming
    ``name``, and a NUL byte, which no file name can hold, :class:`ParameterError` (before any work: the file
    system itself refuses it only when the path is used)."""
    if not isinstance(value, (str, os.PathLike)):
        raise ParameterTypeError(f"{name} must be a path (str or os.PathLike), got {type(value).__name__}")
    text = os.fspath(value)
    if "\x00" in (text if isinstance(text, str) else text.decode("latin-1")):
        raise ParameterError(f"{name} holds a NUL byte ('\\x00'), which no file name can: {text!r}")
    return value


def check_callback(value: object, name: str) -> object:
    """Accept None or a callable; anything else raises :class:`ParameterTypeError` naming ``name``."""
    if value is not None and not callable(value):
        raise ParameterTypeError(f"{name} must be a function or None, got {value!r} ({type(value).__name__})")
    return value


def check_positive_int(value: object, name: str) -> int:
    """Accept an integer >= 1 (numpy integers too; not a bool, a float or a string); return it as int, else raise
    :class:`ParameterError` naming ``name``."""
    if not is_whole_number(value) or value < 1:
        raise ParameterError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_bool(value: object, name: str) -> bool:
    """Accept True or False (a numpy bool too); anything else (None, 0, "no") raises
    :class:`ParameterTypeError` naming ``name``: a truthy or falsy stand-in is not silently taken."""
    if not isinstance(value, (bool, np.bool_)):
        raise ParameterTypeError(f"{name} must be True or False, got {value!r} ({type(value).__name__})")
    return bool(value)


def _to_float32(audio: np.ndarray, name: str) -> np.ndarray:
    """``audio`` (float32 or float64, either byte order) as native float32. A finite float64 sample beyond
    float32's range (which would become infinite; the cast itself reports it) raises AudioInputError naming the
    first by its index in ``audio``."""
    try:
        with np.errstate(over="raise"):
            return audio.astype(np.float32)
    except FloatingPointError:
        beyond = np.isfinite(audio) & (np.abs(audio) > np.finfo(np.float32).max)
        index = tuple(int(i) for i in np.unravel_index(int(np.argmax(beyond)), audio.shape))
        raise AudioInputError(
            f"{name} holds {int(beyond.sum())} sample(s) beyond float32's range (+-3.4e38), the first "
            f"{float(audio[index]):.3g} at index {index}; samples are expected in [-1, 1]"
        ) from None


def check_dtype(audio: object, name: str = "audio") -> np.ndarray:
    """Native float32 is taken as is; float64, and float32 in the other byte order (e.g. big-endian '>f4'), are
    converted to native float32; anything else raises AudioTypeError, as does a masked array (its mask would be
    ignored: the samples under it restored as whatever values they hold). The one dtype check of every array entry
    (:func:`prepare_audio`, :func:`stream_block`, :func:`planar_input`, the restorers' planar arrays)."""
    if not isinstance(audio, np.ndarray):
        raise AudioTypeError(f"{name} must be a numpy.ndarray, got {type(audio).__name__}")
    if isinstance(audio, np.ma.MaskedArray):
        raise AudioTypeError(
            f"{name} is a masked array ({int(np.ma.count_masked(audio))} of {audio.size} samples masked), whose mask "
            f"would be ignored and the values under it restored; fill the masked samples first ({name}.filled(0.0))"
        )
    if audio.dtype == np.float32:
        return audio
    if audio.dtype.newbyteorder("=") in (np.float32, np.float64):
        return _to_float32(audio, name)
    if audio.dtype.kind == "f":  # float16, longdouble: already samples, only the precision is unsupported
        raise AudioTypeError(
            f"{name} has dtype {audio.dtype}; expected float32 or float64 samples in [-1, 1] "
            "(convert it with x.astype(np.float32))"
        )
    hint = _conversion_hint(audio.dtype)
    raise AudioTypeError(f"{name} has dtype {audio.dtype}; expected float32 or float64 samples in [-1, 1]{hint}")


def _conversion_hint(dtype: np.dtype) -> str:
    """How to turn samples of ``dtype`` into float samples in [-1, 1], when there is a usual way."""
    if dtype.kind == "i":
        return f" (integer PCM: x.astype(np.float32) / {2 ** (8 * dtype.itemsize - 1)})"
    if dtype.kind == "u":
        half = 2 ** (8 * dtype.itemsize - 1)
        return f" (unsigned PCM: (x.astype(np.float32) - {half}) / {half})"
    return ""


def check_finite(planar: np.ndarray, name: str = "audio", layout: Layout = "channels_first") -> None:
    """Raise AudioInputError if the (channels, samples) ``planar`` holds NaN or infinite samples, naming the first
    one by its index in the caller's array, whose ``layout`` it was read in."""
    bad = ~np.isfinite(planar)
    if bad.any():
        channel, sample = (int(i) for i in np.unravel_index(int(np.argmax(bad)), planar.shape))
        index = {"mono": (sample,), "channels_last": (sample, channel)}.get(layout, (channel, sample))
        raise AudioInputError(f"{name} holds {int(bad.sum())} NaN/Inf sample(s), the first at index {index}")


def check_buffer_size(buffer_size: object) -> int:
    """Accept a positive integer block size in samples (pedalboard's ``buffer_size``); return it as int."""
    return check_positive_int(buffer_size, "buffer_size")


def check_sample_rate(sample_rate: object, name: str = "sample_rate") -> int:
    """Accept an integer-valued rate in [1 kHz, 768 kHz]; return it as int. ``name``: the argument's name, for
    the error (an :class:`AudioInputError`)."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, float, np.integer, np.floating)):
        raise AudioInputError(f"{name} must be a number in Hz, got {type(sample_rate).__name__}")
    if is_whole_number(sample_rate):
        rate = int(sample_rate)
    elif not np.isfinite(sample_rate) or float(sample_rate) != int(sample_rate):
        raise AudioInputError(f"{name} must be a whole number of Hz, got {sample_rate!r}")
    else:
        rate = int(sample_rate)
    if not MIN_RATE <= rate <= MAX_RATE:
        raise AudioInputError(f"unsupported sample rate {rate} Hz for {name} (expected {MIN_RATE}..{MAX_RATE} Hz)")
    return rate


def check_layout(layout: object, shape: tuple[int, ...], name: str = "audio") -> Layout:
    """The layout of an array of ``shape``: ``layout`` when given (one of :data:`LAYOUTS`, and one the shape
    can have: "mono" is 1-D, the others 2-D), else inferred (:func:`infer_layout`). An unknown layout raises
    :class:`ParameterError`, one that does not fit the shape :class:`AudioInputError`, each naming both."""
    if layout is None:
        return infer_layout(shape, name=name)
    if not isinstance(layout, str) or layout not in LAYOUTS:
        raise ParameterError(
            f"layout must be one of {', '.join(map(repr, LAYOUTS))} or None (inferred from the shape), got {layout!r}")
    needed = 1 if layout == "mono" else 2
    if len(shape) != needed:
        wanted = "(samples,)" if needed == 1 else "(channels, samples) or (samples, channels)"
        raise AudioInputError(f"{name}: layout {layout!r} needs a {needed}-D array {wanted}, got shape {shape}")
    return layout  # type: ignore[return-value]


def infer_layout(shape: tuple[int, ...], known: Layout | None = None, name: str = "audio",
                 remembered: bool = False) -> Layout:
    """Layout of an audio buffer: 1-D is mono; in 2-D the smaller dimension is channels.

    A square 2-D buffer is ambiguous unless ``known`` (a layout seen before) resolves it. ``remembered``: the
    caller keeps the last layout (pedalboard's rule, :class:`LayoutTracker`), so its error says so; else it
    points at an explicit ``layout=``.
    """
    if len(shape) == 1:
        return "mono"
    if len(shape) != 2:
        raise AudioInputError(f"{name} must be 1-D (samples,) or 2-D (channels, samples)/(samples, channels), got shape {shape}")
    rows, cols = shape
    if rows < cols:
        return "channels_first"
    if cols < rows:
        return "channels_last"
    if known in ("channels_first", "channels_last"):
        return known
    if rows == 1:  # (1, 1): one frame of one channel, both readings agree
        return "channels_first"
    hint = ("process a non-square buffer first (the layout is remembered until reset()), as with pedalboard's "
            "plugins" if remembered else "give layout='channels_first' or 'channels_last'")
    raise AudioInputError(f"{name} has square shape {shape}: cannot tell channels from samples; {hint}")


def to_channels_first(audio: np.ndarray, layout: Layout) -> np.ndarray:
    """(samples,) / (channels, samples) / (samples, channels) -> (channels, samples) view."""
    if layout == "mono":
        return audio[None, :]
    return audio if layout == "channels_first" else audio.T


def from_channels_first(audio: np.ndarray, layout: Layout) -> np.ndarray:
    """Inverse of :func:`to_channels_first`."""
    if layout == "mono":
        return audio[0]
    return audio if layout == "channels_first" else audio.T


def prepare_audio(audio: object, layout: Layout | None = None, name: str = "audio") -> tuple[np.ndarray, Layout]:
    """Validate a whole signal for offline processing: dtype, layout, non-empty, finite.

    Returns (float32 (channels, samples) array, layout).
    """
    array = check_dtype(audio, name)
    layout = check_layout(layout, array.shape, name)
    planar = to_channels_first(array, layout)
    if planar.shape[0] == 0 or planar.shape[1] == 0:
        raise AudioInputError(f"{name} is empty (shape {array.shape}): nothing to restore")
    check_finite(planar, name, layout)
    return np.ascontiguousarray(planar), layout


def stream_block(block: object, channels: int, name: str = "block") -> tuple[np.ndarray, bool]:
    """A block for a ``channels``-channel stream: 1-D (mono streams only) or (channels, samples), float32 or
    float64, finite -> ((channels, samples) float32, whether it was 1-D)."""
    array = check_dtype(block, name)
    mono = array.ndim == 1
    if mono:
        if channels != 1:
            raise AudioInputError(f"1-D {name} given to a {channels}-channel stream; pass (channels, samples)")
        array = array[None, :]
    elif array.ndim != 2 or array.shape[0] != channels:
        raise AudioInputError(f"{name} must have shape ({channels}, samples), got {array.shape}")
    check_finite(array, name, "mono" if mono else "channels_first")
    return array, mono


class LayoutTracker:
    """pedalboard's shape rules with its cache: which dimension of a buffer holds the channels.

    1-D is mono. In 2-D the smaller dimension is channels, except that once a 2-D buffer has been seen, a
    dimension equal to the channel count seen last is taken as channels (so (2, 1) after (2, 1000) is one
    stereo sample, and a square buffer takes the cached layout). Empty dimensions are samples. The cache
    lives until :meth:`reset`.
    """

    def __init__(self) -> None:
        self.layout: Layout | None = None  # last 2-D layout
        self.channels: int | None = None  # channel count of the last 2-D buffer

    def reset(self) -> None:
        self.layout = self.channels = None

    def resolve(self, shape: tuple[int, ...], name: str = "input_array") -> tuple[Layout, int]:
        """(layout, channels) of a buffer of ``shape``; updates the cache. Raises AudioInputError if ambiguous."""
        if len(shape) == 1:
            return "mono", 1
        if len(shape) != 2:
            raise AudioInputError(f"{name} must be 1-D (samples,) or 2-D, got shape {shape}")
        rows, cols = shape
        known = self.channels
        if rows == 0 or cols == 0:  # empty: the zero dimension is samples
            layout: Layout = "channels_last" if rows == 0 else "channels_first"
        elif rows == cols == known and self.layout is not None:
            layout = self.layout
        elif known in (rows, cols) and rows != cols:
            layout = "channels_first" if rows == known else "channels_last"
        elif rows == cols == 1:
            layout = "channels_first"  # one sample of one channel: both readings agree
        else:
            layout = infer_layout(shape, None, name, remembered=True)
        channels = rows if layout == "channels_first" else cols
        if channels > 0 and shape != (1, 1):
            self.layout, self.channels = layout, channels
        return layout, channels


def planar_input(input_array: object, tracker: "LayoutTracker") -> tuple[np.ndarray, Layout]:
    """Check dtype (float32 kept, float64 converted, else TypeError), layout and finiteness (a NaN/Inf named by
    its index in ``input_array``) -> ((channels, samples), layout)."""
    array = check_dtype(input_array, "input_array")
    layout, _ = tracker.resolve(array.shape)
    planar = to_channels_first(array, layout)
    check_finite(planar, "input_array", layout)
    return planar, layout


def output_in_layout(planar: np.ndarray, layout: Layout) -> np.ndarray:
    """(channels, samples) float32 -> C-contiguous float32 in ``layout``."""
    return np.ascontiguousarray(from_channels_first(planar, layout), dtype=np.float32)
