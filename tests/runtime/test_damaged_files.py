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
