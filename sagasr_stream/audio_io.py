"""Audio files and resampling through pedalboard.io, with atomic writes."""
from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import stat
from pathlib import Path
from typing import Iterator, NamedTuple, Protocol

import numpy as np
from pedalboard.io import AudioFile, ReadableAudioFile

from .chunking import SampleBuffer
from .dither import Dither16
from .errors import AudioFileError, AudioFileNotFoundError, ParameterError
from .files import atomic_path, name_hash
from .headroom import PeakLimiter
from .mp3 import mp3_gapless
from .ogg import number_stream
from .quantization import pedalboard_full_scale, pedalboard_lowest
from .streaming import ResampleStage, exact_length
from .streaming import resample as resample_planar
from .tags import carry_tags
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
DECODE_BLOCK = 1 << 16  # frames decoded per read of a resampled MP3
ENCODE_BLOCK = 4096  # frames per write to a lossy encoder: Vorbis codes its input as it was cut into writes
NAME_MAX = 255  # bytes of one file name, where the file system does not say
log = logging.getLogger("sagasr_stream")


def resample(audio: np.ndarray, source_rate: int, target_rate: int) -> np.ndarray:
    """(channels, samples) float32 at ``source_rate`` -> (channels, round(samples * target/source)) float32
    (the resample stage of :mod:`sagasr_stream.streaming` over the whole signal)."""
    return resample_planar(audio, source_rate, target_rate)


def decoder_path(path: str | os.PathLike[str]) -> str:
    """``path`` as pedalboard's ``AudioFile`` must be given it to open the file Python means: absolute. Its JUCE
    file layer reads a leading "~" as the home folder (Python, like ``open()``, as a folder named "~"), so
    ``~/in.wav`` was checked here and decoded there, and ``~/out.wav`` written into the home folder."""
    return os.path.join(os.getcwd(), os.fspath(path))


class AudioReader(Protocol):
    """What :func:`open_input` yields: pedalboard's ``AudioFile``, or a :class:`TrimmedReader` (an MP3 read gapless,
    a file read at another rate). ``read(n)``: (channels, <= n) float32."""

    @property
    def frames(self) -> int: ...

    @property
    def samplerate(self) -> float: ...

    @property
    def num_channels(self) -> int: ...

    def read(self, num_frames: int, /) -> np.ndarray: ...


@contextlib.contextmanager
def open_input(path: str | os.PathLike[str], sample_rate: int | None = None) -> Iterator[tuple[AudioReader, int, int]]:
    """Open an audio file for reading at ``sample_rate`` (resampled on the fly by the runtime's resampler, to
    ``round(frames * sample_rate / rate)`` samples, if needed; ``None``: its own rate).

    Yields (reader, num_channels, original_rate); ``reader.read(n)`` returns (channels, <= n) float32. An MP3
    whose LAME tag records its encoder delay and padding is read without them (:class:`TrimmedReader`).
    """
    path = Path(path)
    check_input_file(path)
    try:
        handle = AudioFile(decoder_path(path))
    except Exception as exc:
        raise AudioFileError(unreadable_message(exc, path)) from exc
    with handle:
        rate = int(round(handle.samplerate))
        gapless = mp3_gapless(path)
        if handle.frames == 0 or gapless is not None and gapless[1] == 0:
            raise AudioFileError(f"audio file {path} holds no samples")
        if sample_rate is None and not MIN_RATE <= rate <= MAX_RATE:  # read at its own rate: one we can restore
            raise AudioFileError(f"audio file {path} is at {rate} Hz: supported rates are {MIN_RATE}..{MAX_RATE} Hz")
        if gapless is not None:
            reader: AudioReader = TrimmedReader(handle, *gapless, sample_rate)
        elif sample_rate is None or rate == sample_rate:
            reader = handle
        else:  # the runtime's resampler, not pedalboard's (its aliases from 192 kHz lie 57 dB under the signal)
            reader = TrimmedReader(handle, 0, handle.frames, sample_rate)
        yield reader, handle.num_channels, rate


class TrimmedReader:
    """An open ``AudioFile`` read from its ``skip``-th decoded sample, at most ``frames`` of them, at
    ``sample_rate`` (None: the file's own) through a :class:`~sagasr_stream.streaming.ResampleStage` after the trim:
    an MP3 as the samples its encoder was given (:func:`~sagasr_stream.mp3.mp3_gapless`), any file at another rate
    (``skip`` 0, every frame) as the runtime resamples. ``read(n)``, ``frames``, ``samplerate``, ``num_channels``
    and ``file_dtype`` as an ``AudioFile``'s."""

    def __init__(self, handle: ReadableAudioFile, skip: int, frames: int, sample_rate: int | None = None) -> None:
        self.handle, self._skip, self._left = handle, skip, frames
        rate = int(round(handle.samplerate))
        target = sample_rate or rate
        self.samplerate = float(target)
        self.num_channels = int(handle.num_channels)
        self.file_dtype = handle.file_dtype
        self.frames = exact_length(frames, rate, target)
        self._stage = ResampleStage(rate, target, self.num_channels, self.frames) if target != rate else None
        self._held, self._ended = SampleBuffer(self.num_channels), False

    def _trimmed(self, n: int) -> np.ndarray:
        """Up to ``n`` of the kept samples at the file's rate."""
        while self._skip > 0:
            dropped = self.handle.read(min(self._skip, DECODE_BLOCK)).shape[1]
            self._skip = self._skip - dropped if dropped else 0
        if min(n, self._left) <= 0:  # pedalboard's read(0) reads the whole file
            return np.zeros((self.num_channels, 0), np.float32)
        block = self.handle.read(min(n, self._left))
        self._left -= block.shape[1]
        return np.asarray(block, dtype=np.float32)

    def read(self, n: int) -> np.ndarray:
        """(channels, <= n) float32; (channels, 0) at the end."""
        if self._stage is None:
            return self._trimmed(n)
        while len(self._held) < n and not self._ended:
            block = self._trimmed(DECODE_BLOCK)
            self._ended = block.shape[1] == 0
            self._held.append(self._stage.flush() if self._ended else self._stage.process(block))
        return self._held.pop(n)


def check_input_file(path: Path) -> None:
    """Raise :class:`AudioFileError` (one line naming ``path``) unless it is an existing regular file with bytes
    in it (an empty one, a failed copy, is named as empty, not as one of an unknown format)."""
    try:
        info = path.stat()
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            raise AudioFileNotFoundError(f"input file not found: {path}") from None
        raise AudioFileError(f"cannot read input {path}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise AudioFileError(f"input {path} is a folder; expected one audio file")
    if not stat.S_ISREG(info.st_mode):
        raise AudioFileError(f"input {path} is not a regular file; expected one audio file")
    if info.st_size == 0:
        raise AudioFileError(f"input {path} is empty (0 bytes)")


def decoder_message(exc: BaseException, path: Path) -> str:
    """The decoder's message without the file name, as given or as the decoder was given it (our message names
    the file once)."""
    text = str(exc)
    for name in (f'file "{decoder_path(path)}"', f'"{decoder_path(path)}"', decoder_path(path),
                 f'file "{path}"', f'"{path}"', str(path)):
        text = text.replace(name, "the file")
    return text


def unreadable_message(exc: BaseException, path: Path) -> str:
    """Why ``path`` cannot be opened; for a suffix this platform's decoders do not read (AAC/.m4a outside
    macOS), which ones they do read, so the file is not taken for a damaged one."""
    import pedalboard.io

    text = f"cannot read audio file {path}: {decoder_message(exc, path)}"
    readable = getattr(pedalboard.io, "get_supported_read_formats", lambda: None)()
    if readable and path.suffix and path.suffix.lower() not in readable:
        text += f" ({path.suffix} is not read on this platform: convert it to one of {', '.join(readable)})"
    return text


def failure_text(exc: BaseException, tmp: Path, needed: int = 0) -> str:
    """Why writing failed, without our temporary file's name (the message names the destination). pedalboard's
    own failure names no reason ("Unable to write data to audio file."): when the disk of ``tmp`` has less than
    ``needed`` bytes (what was being written) and :data:`DISK_MARGIN` free, that is said instead."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return disk_full_text(tmp, needed) or decoder_message(exc, tmp)


DISK_MARGIN = 1 << 20  # bytes: a write that failed with less than this free (beyond its own size) hit a full disk


def disk_full_text(path: Path, needed: int = 0) -> str | None:
    """"No space left on device (N bytes free)" when the file system of ``path``'s folder has less than ``needed``
    + :data:`DISK_MARGIN` bytes free for us, else None (also when it cannot be asked)."""
    try:
        free = shutil.disk_usage(path.parent).free
    except OSError:
        return None
    if free >= needed + DISK_MARGIN:
        return None
    return f"{os.strerror(errno.ENOSPC)} ({free} bytes free)"


def check_finite_block(block: np.ndarray, source: object) -> None:
    """Raise :class:`AudioFileError` naming ``source`` (a path, or a word such as "input") when a block read from it
    holds NaN or Inf samples."""
    if not np.isfinite(block).all():
        raise AudioFileError(f"{source} holds NaN/Inf samples")


def read_blocks(reader: AudioReader, block: int) -> Iterator[np.ndarray]:
    """Blocks of (channels, <= block) float32 until the reader is exhausted."""
    while True:
        chunk = reader.read(block)
        if chunk.shape[1] == 0:
            return
        yield np.ascontiguousarray(chunk, dtype=np.float32)


def partial_path(destination: Path) -> Path:
    """Hidden temporary name beside ``destination``: ``.sagasr-HASH.partial-PID.EXT`` (HASH: 12 hex digits of
    the final name, so its length, about 40 bytes, does not grow with the name's; the suffix kept so the format
    is known). :mod:`sagasr_stream.partials` removes it when a killed run left it behind."""
    return destination.with_name(f".sagasr-{name_hash(destination.name)}.partial-{os.getpid()}{destination.suffix}")


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


def name_max(path: Path) -> int:
    """The longest file name (bytes) the file system of ``path``'s nearest existing folder allows."""
    for folder in path.parents:
        try:
            if folder.is_dir():
                return int(os.pathconf(folder, "PC_NAME_MAX"))
        except (OSError, ValueError, AttributeError):  # a name too long, no pathconf (Windows), no answer
            continue
    return NAME_MAX


def check_output_name(destination: Path) -> None:
    """Raise :class:`AudioFileError` naming ``destination`` when one of its names is longer than its file system
    allows (checked on the path's text, before any file is touched)."""
    limit = name_max(destination)
    for part in destination.parts:
        size = len(os.fsencode(part))
        if size > limit:
            raise AudioFileError(f"cannot write {destination}: a name in the path is {size} bytes long, "
                                 f"the file system allows {limit}")


def check_writable(destination: Path) -> None:
    """Raise :class:`AudioFileError` naming ``destination`` for a name too long, a folder or a format we cannot
    write (a folder first: ``out/`` has no suffix, but it is no missing one)."""
    check_output_name(destination)  # before any stat: a name too long fails there with OSError
    if destination.is_dir():
        raise AudioFileError(f"cannot write {destination}: it is a folder (name an output file)")
    if destination.suffix.lower() not in WRITABLE_SUFFIXES:
        raise AudioFileError(f"cannot write {destination}: output format must be one of {sorted(WRITABLE_SUFFIXES)}")


def output_rate_problem(suffix: str, sample_rate: int, advice: str | None = None) -> str | None:
    """Why a ``suffix`` file cannot hold ``sample_rate`` (:data:`OUTPUT_RATE_LIMITS`: the format, what it holds
    and the rate, then ``advice`` in brackets; by default what to choose instead, for a format of a few rates the
    rate: :func:`held_rate`), or None when it can (or the format is none we write)."""
    limit = OUTPUT_RATE_LIMITS.get(suffix.lower())
    if limit is None or (sample_rate in limit.only if limit.only else sample_rate <= limit.any_hz
                         or (sample_rate <= limit.tens_hz and sample_rate % 10 == 0)):
        return None
    name = format_name(suffix)
    if limit.only:
        rates = ", ".join(str(r) for r in limit.only[:-1]) + f" and {limit.only[-1]}"
        instead = held_rate(suffix, sample_rate)
        advice = advice or f"choose another output rate, e.g. {instead} Hz, or a .flac or .wav output"
        return f"{name} holds sample rates of {rates} Hz; not {sample_rate} Hz ({advice})"
    tens = f", and multiples of 10 Hz up to {limit.tens_hz} Hz" if limit.tens_hz > limit.any_hz else ""
    advice = advice or "choose another output rate, or a .wav output"
    return f"{name} holds sample rates of {MIN_RATE}..{limit.any_hz} Hz{tens}; not {sample_rate} Hz ({advice})"


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


def check_output_layout(destination: Path, sample_rate: int, channels: int, source: object = None) -> None:
    """Raise :class:`AudioFileError` naming ``destination`` (and the input ``source``) when its format cannot hold
    ``sample_rate`` (:func:`check_output_rate`) or ``channels`` (:func:`output_channels_problem`): checked once an
    input's header is read, before it is decoded."""
    check_output_rate(destination, sample_rate)
    problem = output_channels_problem(destination.suffix, channels, source)
    if problem:
        raise AudioFileError(f"cannot write {destination}: {problem}")


def check_output_rate(destination: Path, sample_rate: int) -> None:
    """Raise :class:`AudioFileError` naming ``destination`` when its format cannot hold ``sample_rate``
    (:func:`output_rate_problem`): checked before any model is loaded or file read, where the rate is known."""
    problem = output_rate_problem(destination.suffix, sample_rate)
    if problem:
        raise AudioFileError(f"cannot write {destination}: {problem}")


class OutputWriter:
    """What :func:`atomic_writer` yields: ``write((channels, samples) float32)`` into the temporary file. A
    failed write raises :class:`AudioFileError` naming the destination. An integer format (16 / 24 bits) cannot
    hold |x| > 1, nor do the decoders of a lossy one (``lossy``: MP3, Vorbis) give it back (they clip at full
    scale), so their samples pass through a :class:`~sagasr_stream.headroom.PeakLimiter` (only samples near
    an over change; it holds a few samples back until :meth:`finish`), which :meth:`report` tells of once the file
    is written; 16-bit samples are then rounded with TPDF dither (:class:`~sagasr_stream.dither.Dither16`), 24-bit
    ones to the nearest integer (:func:`pcm24`). The most negative integer code is no over: a sample pedalboard
    read from it is written back as that code. A lossy encoder is given :data:`ENCODE_BLOCK` frames a write, so its
    file does not depend on how the samples came."""

    def __init__(self, handle: object, tmp: Path, destination: Path, channels: int = 1, bits: int = 32,
                 lossy: bool = False) -> None:
        self.handle, self.tmp, self.destination = handle, tmp, destination
        # integers cannot hold |x| > 1 (but one more step below zero: -32768 / 32767 at 16 bits)
        self.limiter = PeakLimiter(negative=pedalboard_lowest(bits)) if bits < 32 else PeakLimiter() if lossy else None
        self.kind = "lossy" if lossy else "integer"
        self.encode_buffer = SampleBuffer(channels) if lossy else None
        self.dither = Dither16(channels) if bits == 16 else None
        self.bits = bits

    def write(self, block: np.ndarray) -> None:
        """Append (channels, samples) float32 to the temporary file."""
        if self.limiter is not None:
            block = self.limiter(block)
        self._write(block)

    def finish(self) -> None:
        """Write what the limiter, and a lossy encoder's block, still hold (called once every block has been
        written)."""
        if self.limiter is not None:
            self._write(self.limiter.flush())
        if self.encode_buffer is not None and len(self.encode_buffer):
            self._encode(self.encode_buffer.pop(len(self.encode_buffer)))

    def _write(self, block: np.ndarray) -> None:
        if block.shape[-1] == 0:
            return
        if self.dither is not None:
            block = self.dither(block)
        elif self.bits == 24:
            block = pcm24(block)
        if self.encode_buffer is None:
            self._encode(block)
            return
        self.encode_buffer.append(block)
        while len(self.encode_buffer) >= ENCODE_BLOCK:
            self._encode(self.encode_buffer.pop(ENCODE_BLOCK))

    def _encode(self, block: np.ndarray) -> None:
        try:
            if block.shape[0] == block.shape[1] > 1:  # pedalboard cannot tell a square block's layout: split it
                self.handle.write(block[:, :1])  # type: ignore[attr-defined]
                block = block[:, 1:]
            self.handle.write(block)  # type: ignore[attr-defined]
        except Exception as exc:
            reason = failure_text(exc, self.tmp, block.nbytes)
            raise AudioFileError(f"cannot write {self.destination}: {reason}") from exc

    def report(self) -> None:
        """Log a warning when samples over full scale were limited (integer and lossy outputs only)."""
        if self.limiter is not None:
            self.limiter.report(self.destination, self.kind)


def pcm24(block: np.ndarray) -> np.ndarray:
    """(channels, n) float samples -> the same shape of int32 holding ``round(x * 8388607)`` (pedalboard reads a
    24-bit code k as k / 8388607) in their top 24 bits, clipped to the 24-bit range: what pedalboard writes to a
    24-bit file exactly. Its own float conversion scales negative samples by 8388608, so a 24-bit file read and
    written back lost one step on half of its samples."""
    scaled = np.round(np.asarray(block, dtype=np.float64) * pedalboard_full_scale(24))
    return np.left_shift(np.clip(scaled, -(1 << 23), (1 << 23) - 1).astype(np.int32), 8)


def open_output(tmp: Path, destination: Path, sample_rate: int, channels: int, bits: int,
                quality: str | None = None) -> object:
    """pedalboard's writer of ``tmp`` in ``destination``'s format (a lossy one at ``quality``,
    :func:`output_quality`); a refusal raises :class:`AudioFileError` naming ``destination``."""
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:  # a file where a folder should be: opening the file below says "Not a directory"
        pass
    except OSError as exc:  # the folder's own reason ("Permission denied", "Read-only file system")
        raise AudioFileError(f"cannot write {destination}: {exc.strerror or exc}") from exc
    try:
        if quality is not None:  # lossy: no bit depth
            return AudioFile(decoder_path(tmp), "w", float(sample_rate), channels, quality=quality)
        return AudioFile(decoder_path(tmp), "w", float(sample_rate), channels, bit_depth=bits)
    except Exception as exc:
        reason = why_not_creatable(tmp) or failure_text(exc, tmp)
        raise AudioFileError(f"cannot write {destination}: {reason}") from exc


def why_not_creatable(path: Path) -> str | None:
    """The operating system's reason why a new file ``path`` cannot be made ("Permission denied", "Read-only file
    system", ...), or None when it can (pedalboard's own refusal names no reason)."""
    try:
        with open(path, "xb"):
            pass
    except FileExistsError:
        return None
    except OSError as exc:
        return exc.strerror or str(exc)
    path.unlink(missing_ok=True)
    return None


WAVE_FORMAT_EXTENSIBLE = 0xFFFE
MAX_WAV_CHUNKS = 64  # chunks looked through for ``fmt `` before giving up


def wav_channel_mask(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    """(file offset, value) of the speaker mask (``dwChannelMask``) of a WAVE_FORMAT_EXTENSIBLE file's ``fmt ``
    chunk; None for any other file (another format, a plain WAV, a header that cannot be read)."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
            if head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
                return None
            for _ in range(MAX_WAV_CHUNKS):
                chunk = f.read(8)
                if len(chunk) < 8:
                    return None
                size = int.from_bytes(chunk[4:], "little")
                if chunk[:4] == b"fmt ":
                    start, fmt = f.tell(), f.read(min(size, 24))
                    if len(fmt) < 24 or int.from_bytes(fmt[:2], "little") != WAVE_FORMAT_EXTENSIBLE:
                        return None
                    return start + 20, int.from_bytes(fmt[20:24], "little")
                f.seek(size + (size & 1), os.SEEK_CUR)
    except OSError:
        return None
    return None


def set_channel_mask(path: Path, destination: Path, mask: int) -> None:
    """Give the WAV file ``path`` (being written for ``destination``) the speaker mask ``mask`` when it has a field
    for one (pedalboard writes the default layout of the channel count); a failure raises :class:`AudioFileError`
    naming ``destination``."""
    found = wav_channel_mask(path)
    if found is None or found[1] == mask:
        return
    try:
        with open(path, "r+b") as f:
            f.seek(found[0])
            f.write(mask.to_bytes(4, "little"))
    except OSError as exc:
        raise AudioFileError(f"cannot write {destination}: {exc.strerror or exc}") from exc


def number_ogg_stream(path: Path, destination: Path) -> None:
    """Give the Ogg file ``path`` (being written for ``destination``) the serial number of its content
    (:func:`~sagasr_stream.ogg.number_stream`: libvorbis draws one at random); a failure raises
    :class:`AudioFileError` naming ``destination``."""
    try:
        number_stream(path)
    except OSError as exc:  # AudioFileError too: a page not whole
        reason = exc.strerror or str(exc)
        raise AudioFileError(f"cannot write {destination}: {reason}") from exc


@contextlib.contextmanager
def atomic_writer(destination: str | os.PathLike[str], sample_rate: int, channels: int,
                  bit_depth: int | None = None, channel_mask: int | None = None,
                  quality: str | int | None = None,
                  tags_from: str | os.PathLike[str] | None = None) -> Iterator[OutputWriter]:
    """Write to a temporary file beside ``destination`` (:func:`partial_path`) and rename it into place only on
    success.

    WAV is written as 32-bit float; FLAC and AIFF as 24-bit, their samples over full scale limited (a warning
    counts them once the file is written; :mod:`sagasr_stream.headroom`); ``bit_depth`` (:func:`output_bit_depth`)
    asks for 16 (TPDF-dithered), 24 or 32 bits. ``channel_mask``: a WAV input's speaker mask
    (:func:`wav_channel_mask`), which a WAV output of more than two channels gets instead of the default layout of
    its channel count. MP3 and Ogg Vorbis are written at ``quality`` (:func:`output_quality`; default: the
    highest bit rate), their samples over full scale limited as an integer format's. ``tags_from``: the input
    file whose tags the output keeps when both are FLAC or both MP3, or an MP3 into a FLAC
    (:mod:`sagasr_stream.tags`). On any error the
    partial file is removed; a failure of the output itself (folder, name, format, disk) raises
    :class:`AudioFileError` naming ``destination``.
    """
    destination = Path(destination)
    check_writable(destination)
    check_output_layout(destination, sample_rate, channels)  # pedalboard's own refusal names the wrong rates
    bits = output_bit_depth(destination, bit_depth)  # a bad depth fails before any file is touched
    encoder_quality = output_quality(destination, quality)
    tmp = partial_path(destination)
    finished = False  # the caller's block ran to its end: what fails after it is the output's failure
    try:
        with atomic_path(destination, tmp):
            with open_output(tmp, destination, sample_rate, channels, bits,  # type: ignore[attr-defined]
                             encoder_quality) as handle:
                writer = OutputWriter(handle, tmp, destination, channels, bits, encoder_quality is not None)
                yield writer
                writer.finish()
            if channel_mask is not None:
                set_channel_mask(tmp, destination, channel_mask)
            if destination.suffix.lower() == ".ogg":
                number_ogg_stream(tmp, destination)
            if tags_from is not None:
                carry_tags(tags_from, tmp, destination)
            finished = True
    except Exception as exc:
        if not finished or isinstance(exc, AudioFileError):
            raise
        raise AudioFileError(f"cannot write {destination}: {failure_text(exc, tmp)}") from exc
    writer.report()
