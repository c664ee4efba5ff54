"""What each output format holds and how it is written: suffixes, sample rates, channels, bit depths and the
quality of lossy encoders, as measured with pedalboard (the tests check each limit on the pedalboard installed),
with the checks that refuse what a format cannot take, naming the output file, before any work is done."""
from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from .errors import AudioFileError, ParameterError
from .validation import MAX_RATE, MIN_RATE, is_whole_number

LOSSLESS_SUFFIXES = {".wav", ".flac", ".aiff", ".aif"}
LOSSY_SUFFIXES = {".mp3", ".ogg"}  # pedalboard's LAME and libvorbis: no bit depth, a ``quality`` (output_quality)
WRITABLE_SUFFIXES = LOSSLESS_SUFFIXES | LOSSY_SUFFIXES
INTEGER_SUFFIXES = {".flac", ".aiff", ".aif"}  # written as 24-bit integers: overs are limited
OUTPUT_BIT_DEPTHS = (16, 24, 32)  # 16 / 24: integers (overs limited; 16 dithered), 32: float (WAV only)


class RateLimit(NamedTuple):
    """The sample rates an output format holds (within MIN_RATE..MAX_RATE): every whole rate up to ``any_hz``,
    multiples of 10 Hz up to ``tens_hz``; ``only`` (when given): these rates and no others."""

    any_hz: int
    tens_hz: int
    only: tuple[int, ...] = ()


# Measured with pedalboard 0.9.26: 64 frames written (in memory) at every whole rate of MIN_RATE..MAX_RATE, at 16 and
# 24 bits (WAV at 32-bit float too), some of each written to a file and read back at their rate. FLAC keeps a rate in
# its frame headers as whole Hz or as tens of Hz, 16 bits each: above 65535 Hz only multiples of 10, up to 655350 Hz
# (pedalboard's refusal calls 8000..384000 Hz, 14 rates, the supported ones; it writes 1000 Hz or 655350 Hz all the
# same). WAV and AIFF hold every rate. test_the_output_rate_limits_are_pedalboards checks them on the pedalboard here.
# MP3 (LAME) takes the nine MPEG-1/2/2.5 rates only, every quality at each of them; Vorbis every whole rate of
# 1000..200000 Hz (every 7th rate and each edge written, some read back). test_the_lossy_rate_limits_are_pedalboards
# checks them.
MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
OUTPUT_RATE_LIMITS: dict[str, RateLimit] = {
    ".wav": RateLimit(MAX_RATE, MAX_RATE), ".aiff": RateLimit(MAX_RATE, MAX_RATE),
    ".aif": RateLimit(MAX_RATE, MAX_RATE), ".flac": RateLimit(65535, 655350),
    ".mp3": RateLimit(max(MP3_RATES), max(MP3_RATES), MP3_RATES), ".ogg": RateLimit(200000, 200000),
}
OUTPUT_CHANNEL_LIMITS = {".mp3": 2, ".ogg": 255}  # pedalboard's LAME writer: mono or stereo; libvorbis: 255
FORMAT_NAMES = {".wav": "WAV", ".flac": "FLAC", ".aiff": "AIFF", ".aif": "AIFF", ".mp3": "MP3", ".ogg": "Ogg Vorbis"}
# The ``quality`` values pedalboard 0.9.26 takes (its refusal lists them): LAME's VBR levels V0..V9 and CBR bit
# rates for MP3, nominal bit rates for Vorbis (no quality levels such as 0.8). The defaults are the highest bit rates
# (pedalboard's own defaults, the same bytes): a restorer's output keeps its restored band. Measured on pink noise at
# 44.1 kHz: MP3 at 320 kbps is within 0.2 dB of the input up to 19.9 kHz (SNR 33 dB in 16-19 kHz) and cuts above
# 20 kHz (-3 dB at 20.0 kHz, -19 dB in 20-21.5 kHz; at 48 kHz: -3 dB at 20.25 kHz); every CBR rate of 128 kbps and up
# cuts there too. V0 keeps the level up to Nyquist but at about 125 kbps (mono), with an SNR of 3 dB above 16 kHz.
# Vorbis at 500 kbps (and 256, 320) keeps the whole band up to Nyquist at 44.1 and 48 kHz; 128 kbps cuts at 19.3 kHz.
MP3_BITRATES = (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
VORBIS_BITRATES = (64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 500)
OUTPUT_QUALITIES: dict[str, tuple[str | int, ...]] = {
    ".mp3": (*(f"V{level}" for level in range(10)), *MP3_BITRATES), ".ogg": VORBIS_BITRATES,
}
DEFAULT_QUALITY = {".mp3": "320 kbps", ".ogg": "500 kbps"}


def format_name(suffix: str) -> str:
    """The name of the format a ``suffix`` file is written in ("FLAC", "Ogg Vorbis")."""
    return FORMAT_NAMES.get(suffix.lower(), suffix.lstrip(".").upper())


def output_bit_depth(destination: str | os.PathLike[str], bit_depth: int | None = None) -> int:
    """Bits per sample an output is written with: ``bit_depth`` (16, 24, or 32 for WAV), by default 24 (integer)
    for FLAC and AIFF and 32 (float) for WAV. Another value raises :class:`ParameterError`, 32 for FLAC or AIFF
    :class:`AudioFileError` naming ``destination``. A lossy output (MP3, Ogg Vorbis) has no bit depth: its float
    samples go to the encoder (32), and a ``bit_depth`` given for it raises :class:`AudioFileError`."""
    suffix = Path(destination).suffix.lower()
    if suffix in LOSSY_SUFFIXES:
        if bit_depth is not None:
            raise AudioFileError(f"cannot write {destination}: {format_name(suffix)} is lossy and has no bit depth "
                                 f"(drop bit_depth / --bit-depth {bit_depth}; quality / --quality sets its fidelity)")
        return 32
    if bit_depth is None:
        return 24 if Path(destination).suffix.lower() in INTEGER_SUFFIXES else 32
    if not is_whole_number(bit_depth) or bit_depth not in OUTPUT_BIT_DEPTHS:
        raise ParameterError(f"bit_depth must be one of {OUTPUT_BIT_DEPTHS}, got {bit_depth!r}")
    if bit_depth == 32 and Path(destination).suffix.lower() in INTEGER_SUFFIXES:
        raise AudioFileError(f"cannot write {destination}: {Path(destination).suffix} holds integer samples "
                             "(16 or 24 bits); 32-bit float needs a .wav output")
    return int(bit_depth)


def output_quality(destination: str | os.PathLike[str], quality: str | int | None = None) -> str | None:
    """The encoder quality of a lossy output as pedalboard names it ("V0", "320 kbps"): ``quality`` given as LAME's
    VBR level "V0".."V9" (MP3 only, any case) or a whole number of kbps (320, "320", "320 kbps") of
    :data:`OUTPUT_QUALITIES`; None: :data:`DEFAULT_QUALITY`, the highest bit rate (MP3 320 kbps CBR, whose encoder
    cuts above 20 kHz; Vorbis 500 kbps, the whole band). None for a lossless output. Another value raises
    :class:`ParameterError` naming it and those the format takes; a quality for a lossless output
    :class:`AudioFileError` naming ``destination``."""
    suffix = Path(destination).suffix.lower()
    if suffix not in LOSSY_SUFFIXES:
        if quality is not None:
            raise AudioFileError(f"cannot write {destination}: {format_name(suffix)} is lossless: quality is for .mp3 "
                                 f"and .ogg outputs (drop quality / --quality {quality})")
        return None
    if quality is None:
        return DEFAULT_QUALITY[suffix]
    accepted = OUTPUT_QUALITIES[suffix]
    text = str(quality).strip() if isinstance(quality, str) else None
    if text is not None and text.upper() in accepted:
        return text.upper()
    kbps = text.lower().removesuffix("kbps").strip() if text is not None else quality
    if isinstance(kbps, str) and kbps.isdigit():
        kbps = int(kbps)
    if not isinstance(kbps, str) and is_whole_number(kbps) and int(kbps) in accepted:
        return f"{int(kbps)} kbps"
    shown = ", ".join(str(q) for q in accepted)
    raise ParameterError(f"quality for {format_name(suffix)} must be one of {shown} (numbers: kbps), got {quality!r}")


def output_rate_problem(suffix: str, sample_rate: int) -> str | None:
    """Why a ``suffix`` file cannot hold ``sample_rate`` (:data:`OUTPUT_RATE_LIMITS`: the format, what it holds,
    the rate, and in brackets what to choose instead: for a format of a few rates a rate, :func:`held_rate`), or
    None when it can (or the format is none we write)."""
    limit = OUTPUT_RATE_LIMITS.get(suffix.lower())
    if limit is None or (sample_rate in limit.only if limit.only else sample_rate <= limit.any_hz
                         or (sample_rate <= limit.tens_hz and sample_rate % 10 == 0)):
        return None
    name = format_name(suffix)
    if limit.only:
        rates = ", ".join(str(r) for r in limit.only[:-1]) + f" and {limit.only[-1]}"
        instead = held_rate(suffix, sample_rate)
        return (f"{name} holds sample rates of {rates} Hz; not {sample_rate} Hz (choose another output rate, e.g. "
                f"{instead} Hz, or a .flac or .wav output)")
    tens = f", and multiples of 10 Hz up to {limit.tens_hz} Hz" if limit.tens_hz > limit.any_hz else ""
    return (f"{name} holds sample rates of {MIN_RATE}..{limit.any_hz} Hz{tens}; not {sample_rate} Hz (choose another "
            "output rate, or a .wav output)")


def held_rate(suffix: str, sample_rate: int) -> int:
    """The rate a ``suffix`` file holds that is nearest ``sample_rate`` from below (above it, when none is
    below): what to ask for instead (96000 Hz for an MP3: 48000 Hz)."""
    limit = OUTPUT_RATE_LIMITS[suffix.lower()]
    rates = limit.only or (MIN_RATE, limit.any_hz)
    below = [r for r in rates if r <= sample_rate]
    return max(below) if below else min(rates)


def output_channels_problem(suffix: str, channels: int, source: object = None) -> str | None:
    """Why a ``suffix`` file cannot hold the ``channels`` of ``source`` (an input, named; None: the audio)
    (:data:`OUTPUT_CHANNEL_LIMITS`), or None when it can."""
    limit = OUTPUT_CHANNEL_LIMITS.get(suffix.lower())
    if limit is None or channels <= limit:
        return None
    held = "1 or 2" if limit == 2 else f"1..{limit}"
    others = ".ogg, .flac or .wav" if suffix.lower() == ".mp3" else ".flac or .wav"
    what = "the audio" if source is None else f"the input {source}"
    return f"{format_name(suffix)} holds {held} channels; {what} has {channels} (write {others})"


def output_layout_problem(suffix: str, sample_rate: int | None, channels: int, source: object = None) -> str | None:
    """Why a ``suffix`` file cannot hold ``sample_rate`` (:func:`output_rate_problem`; None: not asked) or the
    ``channels`` of ``source`` (:func:`output_channels_problem`), or None when it can."""
    return ((None if sample_rate is None else output_rate_problem(suffix, sample_rate))
            or output_channels_problem(suffix, channels, source))


def check_output_layout(destination: Path, sample_rate: int | None, channels: int, source: object = None) -> None:
    """Raise :class:`AudioFileError` naming ``destination`` (and the input ``source``) when its format cannot hold
    ``sample_rate`` (None: checked before) or ``channels`` (:func:`output_layout_problem`): checked once an input's
    header is read, before it is decoded."""
    problem = output_layout_problem(destination.suffix, sample_rate, channels, source)
    if problem:
        raise AudioFileError(f"cannot write {destination}: {problem}")


def check_output_rate(destination: Path, sample_rate: int) -> None:
    """Raise :class:`AudioFileError` naming ``destination`` when its format cannot hold ``sample_rate``
    (:func:`output_rate_problem`): checked before any model is loaded or file read, where the rate is known."""
    problem = output_rate_problem(destination.suffix, sample_rate)
    if problem:
        raise AudioFileError(f"cannot write {destination}: {problem}")
