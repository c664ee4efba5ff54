"""Audio files and resampling through pedalboard.io, with atomic writes."""
from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import stat
from pathlib import Path
from typing import Iterator, Protocol

import numpy as np
from pedalboard.io import AudioFile, ReadableAudioFile

from .channel_order import VORBIS_FROM_WAV, VorbisOrderReader, is_vorbis_file, to_vorbis_order
from .chunking import SampleBuffer
from .dither import Dither16
from .errors import AudioFileError, AudioFileNotFoundError
from .files import atomic_path, name_hash
from .formats import WRITABLE_SUFFIXES, check_output_layout, output_bit_depth, output_quality
from .headroom import PeakLimiter
from .mp3 import mp3_gapless
from .ogg import number_stream
from .quantization import pedalboard_full_scale, pedalboard_lowest
from .streaming import ResampleStage, exact_length
from .streaming import resample as resample_planar
from .tags import carry_tags, flac_channel_mask, give_flac_layout
from .validation import MAX_RATE, MIN_RATE

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
    whose LAME tag records its encoder delay and padding is read without them (:class:`TrimmedReader`); an Ogg
    Vorbis file's 3-8 channels come in WAV's order (:mod:`sagasr_stream.channel_order`).
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
        if is_vorbis_file(path) and handle.num_channels in VORBIS_FROM_WAV:
            reader = VorbisOrderReader(reader)  # a Vorbis stream's 3-8 channels, in the runtime's (WAV's) order
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
        self.vorbis = is_vorbis_file(destination)  # blocks come in WAV's channel order, go out in Vorbis'
        # integers cannot hold |x| > 1 (but one more step below zero: -32768 / 32767 at 16 bits)
        self.limiter = PeakLimiter(negative=pedalboard_lowest(bits)) if bits < 32 else PeakLimiter() if lossy else None
        self.kind = "lossy" if lossy else "integer"
        self.encode_buffer = SampleBuffer(channels) if lossy else None
        self.dither = Dither16(channels) if bits == 16 else None
        self.bits = bits

    def write(self, block: np.ndarray) -> None:
        """Append (channels, samples) float32, in WAV's channel order, to the temporary file."""
        if self.vorbis:
            block = to_vorbis_order(np.asarray(block))
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


def speaker_mask(path: str | os.PathLike[str]) -> int | None:
    """The speaker layout of an input file as a WAVE_FORMAT_EXTENSIBLE mask: a WAV's ``dwChannelMask``
    (:func:`wav_channel_mask`; None for a plain WAV), a FLAC's ``WAVEFORMATEXTENSIBLE_CHANNEL_MASK`` comment or else
    FLAC's default layout of its channel count (:mod:`sagasr_stream.tags.layout`); None for any other file."""
    found = wav_channel_mask(path)
    if found is not None:
        return found[1]
    return flac_channel_mask(path) if Path(path).suffix.lower() == ".flac" else None


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
    asks for 16 (TPDF-dithered), 24 or 32 bits. ``channel_mask``: the input's speaker mask
    (:func:`speaker_mask`), which a WAV output of more than two channels gets instead of the default layout of
    its channel count, and a FLAC output as a ``WAVEFORMATEXTENSIBLE_CHANNEL_MASK`` comment where it is not FLAC's
    default. MP3 and Ogg Vorbis are written at ``quality`` (:func:`output_quality`; default: the
    highest bit rate), their samples over full scale limited as an integer format's. ``tags_from``: the input
    file whose tags the output keeps (FLAC, MP3, Ogg Vorbis, WAV or AIFF: :mod:`sagasr_stream.tags`). On
    any error the partial file is removed; a failure of the output itself (folder, name, format, disk) raises
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
            if is_vorbis_file(destination):
                number_ogg_stream(tmp, destination)
            if tags_from is not None:
                carry_tags(tags_from, tmp, destination)
            if channel_mask is not None and destination.suffix.lower() == ".flac":
                give_flac_layout(tmp, destination, channel_mask, channels)  # after the tags: they replace its comments
            finished = True
    except Exception as exc:
        if not finished or isinstance(exc, AudioFileError):
            raise
        raise AudioFileError(f"cannot write {destination}: {failure_text(exc, tmp)}") from exc
    writer.report()
