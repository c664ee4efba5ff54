"""Audio file writing (audio_io): formats and bit depths, the clipping warning, partial names of a fixed length,
errors of the output side naming the output, and the input checks."""
import errno
import logging
import os
import pathlib

import numpy as np
import pytest
from pedalboard.io import AudioFile

from sagasr_stream.audio_io import atomic_writer, open_input, partial_path, resample
from sagasr_stream.formats import output_bit_depth
from sagasr_stream.errors import AudioFileError
from sagasr_stream.partials import PARTIAL


def write(path, block, rate=44100):
    with atomic_writer(path, rate, block.shape[0]) as writer:
        writer.write(block)


@pytest.mark.parametrize("suffix", [".aiff", ".aif", ".AIFF"])
def test_aiff_is_written_as_24_bit(tmp_path, suffix):
    block = np.array([[0.5, -0.25, 0.125, 0.0]], np.float32)
    write(tmp_path / f"out{suffix}", block)
    with AudioFile(str(tmp_path / f"out{suffix}")) as f:
        assert f.file_dtype == "int24" and f.frames == 4
        np.testing.assert_allclose(f.read(4), block, atol=2.0**-22)
    assert os.listdir(tmp_path) == [f"out{suffix}"]
    assert output_bit_depth(tmp_path / "a.aiff") == output_bit_depth(tmp_path / "a.flac") == 24
    assert output_bit_depth(tmp_path / "a.wav") == 32


@pytest.mark.parametrize("suffix", [".aiff", ".flac"])
def test_overs_of_a_24_bit_output_are_limited_and_counted_in_a_warning(tmp_path, caplog, suffix):
    """The writer itself limits a 24-bit format's overs (any caller of atomic_writer, not only restore_file)."""
    block = np.array([[0.5, 1.5, -2.0, 1.0]], np.float32)  # two samples beyond 0 dBFS; 1.0 itself fits
    with caplog.at_level(logging.WARNING, logger="sagasr_stream"):
        write(tmp_path / f"out{suffix}", block)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "2 samples over full scale" in warnings[0] and "+6.0 dBFS" in warnings[0] and "limiter" in warnings[0]
    assert "write WAV, 32-bit float" in warnings[0] and "AIFF" not in warnings[0]
    with AudioFile(str(tmp_path / f"out{suffix}")) as f:
        assert f.frames == 4
        written = f.read(4)[0]
    assert written[2] == pytest.approx(-1.0, abs=2.0**-22)  # the deepest over lands on full scale
    assert 0 < written[0] < 0.5 and 0 < written[1] < 1.0 and 0 < written[3] < 1.0  # its neighbours dip with it


def test_wav_keeps_peaks_and_warns_of_nothing(tmp_path, caplog):
    block = np.array([[0.5, 1.5, -2.0]], np.float32)
    with caplog.at_level(logging.WARNING, logger="sagasr_stream"):
        write(tmp_path / "out.wav", block)
    assert not caplog.records
    with AudioFile(str(tmp_path / "out.wav")) as f:
        np.testing.assert_array_equal(f.read(3), block)


@pytest.mark.parametrize("channels", [2, 3, 6])
@pytest.mark.parametrize("suffix, bit_depth", [(".wav", None), (".flac", None), (".wav", 16)])
def test_a_file_as_long_as_it_has_channels_is_restored(tiny_model, tmp_path, channels, suffix, bit_depth):
    """pedalboard's writer cannot tell the layout of a square first block ((2, 2): a 2-frame stereo file); the
    writer never hands it one."""
    from scipy.io import wavfile

    from sagasr_stream.api import restore_file

    x = np.random.default_rng(0).uniform(-0.5, 0.5, (channels, channels)).astype(np.float32)
    wavfile.write(tmp_path / "in.wav", 44100, x.T.copy())
    restore_file(tmp_path / "in.wav", tmp_path / f"out{suffix}", tiny_model, bit_depth=bit_depth)
    with AudioFile(str(tmp_path / f"out{suffix}")) as f:
        assert f.num_channels == channels and f.frames == channels
        if suffix == ".wav" and bit_depth is None:
            np.testing.assert_array_equal(f.read(channels), x)  # a clip this short passes through
    write(tmp_path / "square.wav", x)
    with AudioFile(str(tmp_path / "square.wav")) as f:
        np.testing.assert_array_equal(f.read(channels), x)


@pytest.mark.parametrize("rate", [100, 2_822_400])
def test_a_file_at_a_rate_out_of_range_is_refused_by_name(tiny_model, tmp_path, rate):
    from scipy.io import wavfile

    from sagasr_stream.api import restore_file

    wavfile.write(tmp_path / "odd.wav", rate, np.zeros(500, np.float32))
    with pytest.raises(AudioFileError, match=rf"odd\.wav is at {rate} Hz: supported rates are 1000\.\.768000 Hz"):
        restore_file(tmp_path / "odd.wav", tmp_path / "out.wav", tiny_model)
    assert sorted(os.listdir(tmp_path)) == ["odd.wav"]


def test_an_output_below_a_file_is_refused_naming_the_output(tmp_path):
    """A path through a file (``in.wav/out.wav``): the writer's error names the output and why, not a cleanup
    error about the temporary file."""
    (tmp_path / "in.wav").write_bytes(b"not a folder")
    with pytest.raises(AudioFileError, match=r"cannot write .*in\.wav/out\.wav: Not a directory"):
        write(tmp_path / "in.wav" / "out.wav", np.zeros((1, 100), np.float32))
    assert os.listdir(tmp_path) == ["in.wav"]


def read_only(monkeypatch, folder, code=errno.EROFS):
    """Make ``folder`` act as a read-only file system (``code``: the error it answers with): nothing can be made in
    it, and even unlinking a name that is not there fails with ``code``, as Linux does on a read-only mount."""
    def refuse(path):
        if str(path).startswith(str(folder)):
            raise OSError(code, os.strerror(code), str(path))

    real_unlink, real_mkdir, real_open = os.unlink, pathlib.Path.mkdir, open

    def unlink(path, *args, **kwargs):
        refuse(path)
        return real_unlink(path, *args, **kwargs)

    def mkdir(self, *args, **kwargs):
        if self.exists() and kwargs.get("exist_ok"):
            return None
        refuse(self)
        return real_mkdir(self, *args, **kwargs)

    def opener(path, mode="r", *args, **kwargs):
        if any(c in mode for c in "wxa"):
            refuse(path)
        return real_open(path, mode, *args, **kwargs)

    def audio_file(path, mode="r", *args, **kwargs):
        if mode == "w" and str(path).startswith(str(folder)):
            raise RuntimeError(f'Unable to create file "{path}"')
        return AudioFile(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "unlink", unlink)
    monkeypatch.setattr(pathlib.Path, "mkdir", mkdir)
    monkeypatch.setattr("sagasr_stream.audio_io.open", opener, raising=False)
    monkeypatch.setattr("sagasr_stream.audio_io.AudioFile", audio_file)


def test_an_output_on_a_read_only_file_system_is_refused_naming_the_output(tmp_path, monkeypatch):
    """``-o /mnt/cdrom/x.wav`` (or no ``-o`` beside an input on a read-only mount): removing the temporary file
    that could not be made raised OSError "Read-only file system" naming our hidden ``.sagasr-...partial`` file,
    which hid the writer's error and came out of ``restore_file`` as a bare OSError, not an AudioFileError."""
    read_only(monkeypatch, tmp_path)
    destination = tmp_path / "out.wav"
    with pytest.raises(AudioFileError) as info:
        write(destination, np.zeros((1, 16), np.float32))
    assert str(info.value) == f"cannot write {destination}: Read-only file system"


@pytest.mark.parametrize("code", [errno.EACCES, errno.EROFS])
def test_a_new_output_folder_that_cannot_be_made_says_why(tmp_path, monkeypatch, code):
    """``-o locked/new/x.wav``: the folder could not be made for want of permission (or on a read-only file
    system), and the message said "No such file or directory" (what opening the file in the missing folder gave)."""
    read_only(monkeypatch, tmp_path, code)
    destination = tmp_path / "new" / "out.flac"
    with pytest.raises(AudioFileError) as info:
        write(destination, np.zeros((1, 16), np.float32))
    assert str(info.value) == f"cannot write {destination}: {os.strerror(code)}"


def test_the_partial_name_has_a_fixed_length_and_is_cleaned_up_as_ours(tmp_path):
    short, long = tmp_path / "a.wav", tmp_path / ("b" * 250 + ".wav")
    assert len(partial_path(short).name) == len(partial_path(long).name) < 50
    assert partial_path(short) != partial_path(tmp_path / "c.wav")  # one per destination
    for destination in (short, long, tmp_path / "x.FLAC", tmp_path / "y.aif"):
        name = partial_path(destination).name
        assert name.startswith(".sagasr-") and f".partial-{os.getpid()}" in name
        assert PARTIAL.match(name)  # the stale-partial cleanup knows it
        assert partial_path(destination).parent == tmp_path  # same folder: the rename is atomic


def test_a_name_of_250_bytes_can_be_written(tmp_path):
    destination = tmp_path / ("b" * 250 + ".wav")  # 254 bytes: fits, but its old temporary did not
    write(destination, np.zeros((1, 16), np.float32))
    assert os.listdir(tmp_path) == [destination.name]


def test_a_name_too_long_is_refused_naming_the_output(tmp_path):
    destination = tmp_path / ("a" * 300 + ".wav")
    with pytest.raises(AudioFileError, match="bytes long") as info:
        write(destination, np.zeros((1, 16), np.float32))
    assert str(info.value).startswith(f"cannot write {destination}: ") and "\n" not in str(info.value)
    assert os.listdir(tmp_path) == []


def test_a_failed_write_names_the_output_and_leaves_nothing(tmp_path, monkeypatch):
    class Failing:
        def __init__(self, handle):
            self.handle = handle

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return self.handle.__exit__(*exc)

        def write(self, block):
            raise RuntimeError("No space left on device")

    real = AudioFile
    monkeypatch.setattr("sagasr_stream.audio_io.AudioFile", lambda *a, **k: Failing(real(*a, **k)))
    destination = tmp_path / "out.wav"
    with pytest.raises(AudioFileError) as info:
        write(destination, np.zeros((1, 16), np.float32))
    assert str(info.value) == f"cannot write {destination}: No space left on device"
    assert os.listdir(tmp_path) == []


def test_a_failed_rename_names_the_output(tmp_path):
    destination = tmp_path / "out.wav"
    with pytest.raises(AudioFileError) as info:
        with atomic_writer(destination, 44100, 1) as writer:
            writer.write(np.zeros((1, 4), np.float32))
            destination.mkdir()  # a folder appears where the file should go: the final os.replace fails
    assert str(info.value) == f"cannot write {destination}: Is a directory"
    assert os.listdir(tmp_path) == ["out.wav"] and not os.listdir(destination)


def test_a_folder_where_the_output_should_go_is_refused_before_writing(tmp_path):
    destination = tmp_path / "out.wav"
    destination.mkdir()
    with pytest.raises(AudioFileError, match=f"^cannot write {destination}: it is a folder"):
        write(destination, np.zeros((1, 4), np.float32))
    assert os.listdir(tmp_path) == ["out.wav"] and not os.listdir(destination)


def test_the_callers_own_error_passes_unchanged(tmp_path):
    with pytest.raises(ValueError, match="^the caller's$"):
        with atomic_writer(tmp_path / "o.wav", 44100, 1) as writer:
            writer.write(np.zeros((1, 4), np.float32))
            raise ValueError("the caller's")
    assert os.listdir(tmp_path) == []


def test_a_folder_given_as_input_is_named_as_a_folder(tmp_path):
    with pytest.raises(AudioFileError, match=f"^input {tmp_path} is a folder; expected one audio file$"):
        with open_input(tmp_path):
            pass
    with pytest.raises(AudioFileError, match="^input file not found: "):
        with open_input(tmp_path / "missing.wav"):
            pass


def test_an_empty_input_file_is_named_as_empty(tmp_path):
    """A 0-byte file (a failed download or copy) said "does not seem to contain audio data in a known or supported
    format", as a file of another format does."""
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(AudioFileError, match=f"^input {tmp_path / 'empty.wav'} is empty \\(0 bytes\\)$"):
        with open_input(tmp_path / "empty.wav"):
            pass


def test_a_link_planted_at_the_partial_name_is_not_written_through(tmp_path):
    victim, destination = tmp_path / "victim.txt", tmp_path / "out.wav"
    victim.write_bytes(b"keep me")
    partial_path(destination).symlink_to(victim)  # the name is guessable: hash of the name and this PID
    write(destination, np.zeros((1, 4), np.float32))
    assert victim.read_bytes() == b"keep me" and not destination.is_symlink()
    assert sorted(os.listdir(tmp_path)) == ["out.wav", "victim.txt"]


def extensible_wav(path, channels, mask, rate=16000, frames=4000):
    """A 16-bit WAVE_FORMAT_EXTENSIBLE file with speaker mask ``mask`` (what a 5.1 or 2.1 export writes)."""
    import struct

    data = (np.random.default_rng(0).uniform(-0.2, 0.2, (frames, channels)) * 32767).astype("<i2").tobytes()
    guid_pcm = bytes.fromhex("0100000000001000800000aa00389b71")
    fmt = struct.pack("<HHIIHHHHI", 0xFFFE, channels, rate, rate * channels * 2, channels * 2, 16, 22, 16, mask)
    body = b"WAVEfmt " + struct.pack("<I", len(fmt) + 16) + fmt + guid_pcm + b"data" + struct.pack("<I", len(data))
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body) + len(data)) + body + data)


@pytest.mark.parametrize("channels,mask", [(6, 0x60F), (3, 0x10B), (8, 0x63F), (4, 0x107)])
def test_a_wav_output_keeps_the_inputs_speaker_layout(tiny_model, tmp_path, channels, mask):
    """A 5.1 file with side surrounds (mask 0x60F) came out as 5.1 with back surrounds (0x3F), a 2.1 file (FL FR
    LFE) as FL FR FC, a 7.1 file (0x63F) as 0xFF (front left/right of centre for the sides): pedalboard writes the
    default layout of the channel count, and the WAV output now carries the input's mask instead."""
    from sagasr_stream import restore_file
    from sagasr_stream.audio_io import wav_channel_mask

    extensible_wav(tmp_path / "in.wav", channels, mask)
    assert wav_channel_mask(tmp_path / "in.wav")[1] == mask
    for name, bits in (("out.wav", None), ("out24.wav", 24)):
        restore_file(tmp_path / "in.wav", tmp_path / name, tiny_model, bit_depth=bits)
        assert wav_channel_mask(tmp_path / name)[1] == mask
        with AudioFile(str(tmp_path / name)) as f:
            assert f.num_channels == channels and f.frames == 11025


def mask_comments(path):
    """The WAVEFORMATEXTENSIBLE_CHANNEL_MASK comments of a FLAC file's first VORBIS_COMMENT block."""
    from sagasr_stream.tags.flac import VORBIS_COMMENT, first_block
    from sagasr_stream.tags.layout import is_mask_comment
    from sagasr_stream.tags.vorbis import comment_fields

    with open(path, "rb") as f:
        body = first_block(f, VORBIS_COMMENT)
    return [field for field in (comment_fields(body) if body else []) if is_mask_comment(field)]


@pytest.mark.parametrize("channels,mask", [(6, 0x60F), (4, 0x107), (3, 0x10B), (6, 0x3F), (8, 0x63F)])
def test_a_flac_output_keeps_the_speaker_layout_and_gives_it_back(tiny_model, tmp_path, channels, mask):
    """A FLAC output had no way to say a WAV input's layout (5.1 with side surrounds came back from it as 5.1 with back
    surrounds); now it holds a WAVEFORMATEXTENSIBLE_CHANNEL_MASK comment, as libFLAC's flac writes, where the mask is
    not FLAC's default for the channel count (none where it is), and a WAV or FLAC restored from it keeps the layout."""
    from sagasr_stream import restore_file
    from sagasr_stream.audio_io import speaker_mask, wav_channel_mask
    from sagasr_stream.tags.layout import FLAC_LAYOUTS

    extensible_wav(tmp_path / "in.wav", channels, mask)
    restore_file(tmp_path / "in.wav", tmp_path / "out.flac", tiny_model)
    default = FLAC_LAYOUTS[channels] == mask
    comment = b"WAVEFORMATEXTENSIBLE_CHANNEL_MASK=0x%04X" % mask
    assert mask_comments(tmp_path / "out.flac") == ([] if default else [comment])
    assert speaker_mask(tmp_path / "out.flac") == mask
    restore_file(tmp_path / "out.flac", tmp_path / "back.wav", tiny_model)
    assert wav_channel_mask(tmp_path / "back.wav")[1] == mask  # 7.1 too: pedalboard's default for 8 is 0xFF
    restore_file(tmp_path / "out.flac", tmp_path / "again.flac", tiny_model)  # the comment carried once, not twice
    assert mask_comments(tmp_path / "again.flac") == mask_comments(tmp_path / "out.flac")


def test_a_flac_mask_comment_that_is_no_mask_gives_the_default_layout(tmp_path):
    from sagasr_stream.audio_io import speaker_mask
    from sagasr_stream.tags.layout import mask_of

    assert mask_of(b"WAVEFORMATEXTENSIBLE_CHANNEL_MASK=0x060F") == 0x60F
    assert mask_of(b"waveformatextensible_channel_mask=1551") == 0x60F
    for value in (b"", b"0", b"side", b"0x40000", b"-3"):
        assert mask_of(b"WAVEFORMATEXTENSIBLE_CHANNEL_MASK=" + value) is None, value
    write(tmp_path / "six.flac", np.zeros((6, 4410), np.float32))
    assert speaker_mask(tmp_path / "six.flac") == 0x3F  # no comment: FLAC's 5.1
    assert speaker_mask(tmp_path / "plain.txt") is None


def tilde_folders(tmp_path, monkeypatch):
    """A working folder holding a folder literally named "~" (a relative path to Python, as to open()) and a
    home folder elsewhere ($HOME, which pedalboard's JUCE file layer put in place of a leading "~")."""
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    (cwd / "~").mkdir(parents=True)
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(cwd)
    return home, cwd


def test_a_path_starting_with_a_tilde_is_decoded_as_the_file_that_was_checked(tmp_path, monkeypatch):
    """open_input checked ./~/in.wav (Python's reading) but pedalboard decoded $HOME/in.wav: another file's
    samples, silently."""
    home, cwd = tilde_folders(tmp_path, monkeypatch)
    for folder, value in ((cwd / "~", 0.25), (home, -0.5)):
        with AudioFile(str(folder / "in.wav"), "w", 44100, 1, bit_depth=32) as f:
            f.write(np.full((1, 8), value, np.float32))
    with open_input("~/in.wav") as (reader, _, _):
        np.testing.assert_array_equal(reader.read(8), np.full((1, 8), 0.25, np.float32))


def test_an_output_path_starting_with_a_tilde_is_written_where_python_puts_it(tmp_path, monkeypatch):
    """The partial file went to $HOME (pedalboard's reading of "~") and the rename from ./~ failed: "No such file
    or directory", with a hidden partial file left in the home folder."""
    home, cwd = tilde_folders(tmp_path, monkeypatch)
    block = np.array([[0.5, -0.25, 0.125, 0.0]], np.float32)
    write(pathlib.Path("~/out.wav"), block)
    with AudioFile(str(cwd / "~" / "out.wav")) as f:
        np.testing.assert_array_equal(f.read(4), block)
    assert os.listdir(home) == [] and os.listdir(cwd / "~") == ["out.wav"]


# --- the rates each output format holds ------------------------------------------------------------------------

def _pedalboard_writes(suffix: str, rate: int, bits: int) -> bool:
    """Whether pedalboard writes a file of ``suffix`` at ``rate`` that reads back at that rate."""
    import io

    buffer = io.BytesIO()
    try:
        with AudioFile(buffer, "w", float(rate), 1, format=suffix.lstrip("."), bit_depth=bits) as f:
            f.write(np.full((1, 64), 0.25, np.float32))
    except ValueError:
        return False
    buffer.seek(0)
    with AudioFile(buffer) as f:
        return f.samplerate == rate and f.frames == 64


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".aiff", ".aif"])
def test_the_output_rate_limits_are_pedalboards(suffix):
    """The limits OUTPUT_RATE_LIMITS keeps (measured rate by rate over MIN_RATE..MAX_RATE) are those of the
    pedalboard installed: each edge and the rates next to it are written exactly when the limits take them."""
    from sagasr_stream.formats import OUTPUT_RATE_LIMITS, output_rate_problem
    from sagasr_stream.validation import MAX_RATE, MIN_RATE

    limit = OUTPUT_RATE_LIMITS[suffix]
    edges = {MIN_RATE, MAX_RATE, limit.any_hz, limit.tens_hz, 44100, 48000, 96000, 192000, 384000}
    rates = sorted({r + d for r in edges for d in (-10, -1, 0, 1, 10)} & set(range(MIN_RATE, MAX_RATE + 1)))
    for bits in (16, 24):
        assert [r for r in rates if _pedalboard_writes(suffix, r, bits) != (output_rate_problem(suffix, r) is None)
                ] == []


@pytest.mark.parametrize("suffix", [".wav", ".flac"])
def test_a_file_read_at_another_rate_is_resampled_as_the_runtime_resamples(tmp_path, suffix):
    """open_input(path, rate) is how references (sagasr eval) and training audio are read: other files than MP3s went
    through pedalboard's resampler, which from 192 kHz leaves a 30 kHz tone's alias at 14.1 kHz 57 dB under the
    signal (in the band LSD-HF scores) and reads 2 s as 88199 samples; the runtime's own stage gives -89 dB and 88200."""
    rate = 192000
    t = np.arange(2 * rate) / rate
    audio = (0.5 * np.sin(2 * np.pi * 1000 * t) + 0.3 * np.sin(2 * np.pi * 30000 * t)).astype(np.float32)[None]
    with AudioFile(str(tmp_path / f"tone{suffix}"), "w", rate, 1, bit_depth=32 if suffix == ".wav" else 24) as f:
        f.write(audio)
    with AudioFile(str(tmp_path / f"tone{suffix}")) as f:
        stored = f.read(f.frames)
    with open_input(tmp_path / f"tone{suffix}", 44100) as (reader, channels, original):
        assert (reader.frames, reader.samplerate, channels, original) == (88200, 44100.0, 1, rate)
        read = np.concatenate([reader.read(10000) for _ in range(9)], axis=1)
        assert reader.read(10).shape == (1, 0)
    np.testing.assert_array_equal(read, resample(stored, rate, 44100))
    spectrum = np.abs(np.fft.rfft(read[0, 10000:75536] * np.hanning(65536)))
    away_from_the_tone = np.abs(np.fft.rfftfreq(65536, 1 / 44100) - 1000) > 100
    assert 20 * np.log10(spectrum[away_from_the_tone].max() / spectrum.max()) < -80
