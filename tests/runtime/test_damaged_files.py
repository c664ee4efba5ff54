"""Damaged files fail with an error naming them (decoders zero-fill what they cannot read); a batch goes on."""
import os

import numpy as np
import pytest
from pedalboard.io import AudioFile

from sagasr_stream import AudioFileError, restore_file
from sagasr_stream.cli import main
from sagasr_stream.integrity import check_audio_file, read_flac_info

N = 44100 * 2


def tone(channels=2, n=N):
    t = np.arange(n) / 44100
    x = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * np.random.default_rng(0).standard_normal(n)
    return np.tile(x, (channels, 1)).astype(np.float32)


def write(path, audio, rate=44100, **kwargs):
    with AudioFile(str(path), "w", rate, audio.shape[0], **kwargs) as f:
        f.write(audio)
    return path


def truncated(path, fraction=0.5):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


def garbled(path):
    data = bytearray(path.read_bytes())
    for i in range(len(data) // 4, len(data), 701):
        data[i] ^= 0xA5
    path.write_bytes(bytes(data))
    return path


def test_the_decoder_hides_the_damage():
    """Why the check exists: pedalboard returns the declared frames, zero-filled, without an error."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        path = truncated(write(Path(tmp) / "t.flac", tone()))
        with AudioFile(str(path)) as f:
            y = f.read(f.frames)
        assert y.shape == (2, N) and not y[:, N // 2 :].any()


@pytest.mark.parametrize("bit_depth", [16, 24])
def test_intact_flac_passes_its_md5_check(tmp_path, bit_depth):
    loud = np.clip(np.random.default_rng(1).uniform(-1.2, 1.2, (2, 30000)), -1, 1).astype(np.float32)  # full scale
    path = write(tmp_path / "ok.flac", loud, bit_depth=bit_depth)
    assert read_flac_info(path).md5 is not None and read_flac_info(path).bits_per_sample == bit_depth
    assert check_audio_file(path) == 30000


def test_silent_flac_wav_and_the_example_pass(tmp_path):
    assert check_audio_file(write(tmp_path / "silent.flac", np.zeros((2, N), np.float32))) == N
    assert check_audio_file(write(tmp_path / "silent.wav", np.zeros((1, 1000), np.float32))) == 1000
    assert check_audio_file("examples/audio/example_16k.flac") == 99200


@pytest.mark.parametrize("damage, suffix, message", [
    (truncated, ".flac", "t.flac is damaged .*MD5"),
    (lambda p: truncated(p, 0.9), ".flac", "t.flac is damaged .*MD5"),
    (garbled, ".flac", "t.flac is damaged .*MD5"),
    (truncated, ".wav", "t.wav is truncated: its header declares 88200 frames"),
    (truncated, ".aiff", "t.aiff is truncated"),
])
def test_damaged_files_are_refused_by_name(tmp_path, damage, suffix, message):
    path = damage(write(tmp_path / f"t{suffix}", tone(), bit_depth=16))
    with pytest.raises(AudioFileError, match=message):
        check_audio_file(path)


@pytest.mark.parametrize("suffix", [".wav", ".aiff"])
@pytest.mark.parametrize("bit_depth", [8, 16, 24])
@pytest.mark.parametrize("cut", [10, 0.5])  # fewer bytes than the header holds; half the file
def test_an_uncompressed_file_cut_short_is_refused_at_every_bit_depth(tmp_path, suffix, bit_depth, cut):
    """24-bit samples (pedalboard's ``int24``) are counted too, and the header's own bytes are not taken for
    samples: a file that lost its last few samples is as truncated as one that lost half."""
    path = write(tmp_path / f"t{suffix}", tone(), bit_depth=bit_depth)
    assert check_audio_file(path) == N  # intact: passes
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - cut] if isinstance(cut, int) else data[: len(data) // 2])
    with pytest.raises(AudioFileError, match=rf"t{suffix} is truncated: its header declares {N} frames"):
        check_audio_file(path)


@pytest.mark.parametrize("code", [6, 7])  # A-law, mu-law: 8 bits stored a sample, decoded to more
def test_a_companded_telephone_wav_passes_and_is_refused_when_cut(tmp_path, code):
    """The size of a frame comes from the file's header (its block align), not from the decoded format."""
    import struct

    data = bytes(np.random.default_rng(0).integers(0, 256, 8000, dtype=np.uint8))
    fmt = struct.pack("<HHIIHHH", code, 1, 8000, 8000, 1, 8, 0)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    path = tmp_path / "call.wav"
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    assert check_audio_file(path) == 8000
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(AudioFileError, match=r"call\.wav is truncated: its header declares 8000 frames \(8000 bytes"):
        check_audio_file(path)


def test_metadata_before_the_samples_is_not_taken_for_samples(tmp_path):
    """A WAV with a large chunk before its ``data`` (a LIST of tags, a picture) passes intact and fails
    when it lost samples fewer than the chunk's bytes."""
    import struct

    plain = write(tmp_path / "plain.wav", tone(1, 1000), bit_depth=16).read_bytes()
    data_at = plain.index(b"data")
    extra = b"LIST" + struct.pack("<I", 4000) + b"INFO" + bytes(3996)
    body = plain[12:data_at] + extra + plain[data_at:]
    tagged = tmp_path / "tagged.wav"
    tagged.write_bytes(b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WAVE" + body)
    assert check_audio_file(tagged) == 1000
    tagged.write_bytes(tagged.read_bytes()[:-1000])  # 500 of its 1000 samples gone
    with pytest.raises(AudioFileError, match="tagged.wav is truncated"):
        check_audio_file(tagged)


@pytest.mark.parametrize("tagged", [False, True])
def test_a_truncated_mp3_is_refused_by_name(tmp_path, tagged):
    """pedalboard takes an MP3's length from its Xing/Info header and decodes missing frames as silence: the
    frames that follow the header are counted (past an ID3v2 tag in front)."""
    path = write(tmp_path / "t.mp3", tone(2, 44100))
    if tagged:
        body = b"TIT2" + (1000).to_bytes(4, "big") + bytes(1002)
        size = len(body)
        syncsafe = bytes([(size >> 21) & 127, (size >> 14) & 127, (size >> 7) & 127, size & 127])
        path.write_bytes(b"ID3\x03\x00\x00" + syncsafe + body + path.read_bytes() + b"TAG" + bytes(125))
    with AudioFile(str(path)) as f:
        frames = f.frames
    assert check_audio_file(path) == 44100  # intact: passes (its samples without the encoder delay and padding)
    truncated(path)
    with AudioFile(str(path)) as f:
        assert f.frames == frames  # the decoder still declares them all
    with pytest.raises(AudioFileError, match=r"t\.mp3 is damaged .*MP3 header declares \d+ frames, \d+ whole"):
        check_audio_file(path)


@pytest.mark.parametrize("damage, message", [
    (lambda data: data[:-10], "is cut inside the page at byte"),
    (lambda data: data[: data.rindex(b"OggS")], "ends without its end-of-stream page"),
    (lambda data: bytes(b ^ 0x5A if len(data) // 2 <= i < len(data) // 2 + 200 else b for i, b in enumerate(data)),
     "has a page whose CRC does not match"),
])
def test_a_cut_or_garbled_ogg_is_refused_by_name(tmp_path, damage, message):
    """An Ogg Vorbis file cut short decodes, without an error, to what its last whole page reaches (half of a
    two-second file for a cut of a few bytes), and garbled pages to noise: its pages must run whole, each with its
    CRC, to the end-of-stream page."""
    path = write(tmp_path / "t.ogg", tone(1, N))
    assert check_audio_file(path) == N  # intact: passes
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(AudioFileError, match=rf"t\.ogg is damaged .*{message}"):
        check_audio_file(path)


def test_wrong_extension_is_read_by_content_or_refused_by_name(tmp_path):
    flac_named_wav = tmp_path / "flac.wav"
    write(tmp_path / "x.flac", tone()).rename(flac_named_wav)
    assert check_audio_file(flac_named_wav) == N  # decoded by its content: a valid file, not an error
    garbled(flac_named_wav)
    with pytest.raises(AudioFileError, match="flac.wav is damaged"):
        check_audio_file(flac_named_wav)
    text_named_flac = tmp_path / "notes.flac"
    text_named_flac.write_text("these are notes, not audio\n" * 50)
    with pytest.raises(AudioFileError, match="notes.flac"):
        check_audio_file(text_named_flac)


def test_restore_file_refuses_a_truncated_flac_and_writes_nothing(tiny_model, tmp_path):
    src = truncated(write(tmp_path / "half.flac", tone(1, 20000)))
    with pytest.raises(AudioFileError, match="half.flac is damaged"):
        restore_file(src, tmp_path / "out.wav", tiny_model)
    assert sorted(os.listdir(tmp_path)) == ["half.flac"]


def test_a_batch_goes_on_and_lists_the_damaged_files(tiny_bundle, tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    write(folder / "a_good.flac", tone(1, 20000))
    truncated(write(folder / "b_truncated.flac", tone(1, 20000)))
    garbled(write(folder / "c_garbled.flac", tone(1, 20000)))
    write(folder / "d_good.wav", tone(1, 20000))
    rc = main(["upsample", str(folder), "-o", str(tmp_path / "out"), "--model", str(tiny_bundle), "-q"])
    err = capsys.readouterr().err
    assert rc == 1
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a_good.wav", "d_good.wav"]
    assert "2 restored, 0 skipped, 2 failed" in err
    assert f"failed: {folder / 'b_truncated.flac'}" in err and f"failed: {folder / 'c_garbled.flac'}" in err
    error_lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 2 and all(line.count("_truncated.flac") + line.count("_garbled.flac") == 1
                                         for line in error_lines)  # each error line names its file once


def test_an_unreadable_file_is_named_once(tiny_bundle, tmp_path, capsys):
    text = tmp_path / "notes.flac"
    text.write_text("not audio at all\n" * 20)
    assert main(["upsample", str(text), "-o", str(tmp_path / "o.wav"), "--model", str(tiny_bundle), "-q"]) == 1
    (line,) = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert line.count("notes.flac") == 1 and "cannot read audio file" in line


def test_a_file_of_a_format_this_platform_cannot_read_says_so(tiny_bundle, tmp_path, capsys):
    """A folder scan takes .m4a files, which pedalboard decodes on macOS only: elsewhere the error says the
    format is not read here and which ones are, not only that the file "does not seem to contain audio"."""
    from pedalboard.io import get_supported_read_formats

    if ".m4a" in get_supported_read_formats():
        pytest.skip("this platform reads .m4a")
    song = tmp_path / "song.m4a"
    song.write_bytes(b"\x00\x00\x00\x20ftypM4A " + bytes(range(256)) * 8)
    assert main(["restore", str(tmp_path), "-o", str(tmp_path / "out"), "--model", str(tiny_bundle), "-q"]) == 1
    (line,) = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert line.count("song.m4a") == 1 and ".m4a is not read on this platform" in line and ".flac" in line
