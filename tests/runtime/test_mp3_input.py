"""MP3 input is read as the samples its encoder was given: pedalboard's decoder returns the encoder delay (576
samples for LAME) and the decoder's own (529) first and the padding last (a 1.0 s 44.1 kHz file decodes to 46080
samples, 1105 late); the LAME tag after the Xing/Info header records them, and every reader trims them."""
import numpy as np
import pytest
from pedalboard.io import AudioFile
from scipy import signal

from sagasr_stream import AudioFileError, Restorer
from sagasr_stream.audio_io import open_input, read_blocks, resample
from sagasr_stream.cli import main
from sagasr_stream.evaluation.references import load_clips
from sagasr_stream.input_report import inspect_input
from sagasr_stream.integrity import check_audio_file
from sagasr_stream.mp3 import mp3_gapless

CASES = [(rate, channels, quality) for rate in (44100, 22050) for channels in (1, 2) for quality in ("V2", "128")]


def source(rate, channels, seconds=1.0, seed=0):
    """Noise low-passed at a quarter of the rate (what an MP3 keeps), float32 (channels, n)."""
    noise = np.random.default_rng(seed).standard_normal((channels, int(seconds * rate)))
    return (0.3 * signal.lfilter(*signal.butter(8, 0.25), noise)).astype(np.float32)


def write_mp3(path, audio, rate, quality="V2"):
    with AudioFile(str(path), "w", rate, audio.shape[0], quality=quality) as f:
        f.write(audio)
    return path


def read_all(path, sample_rate=None, block=5000):
    with open_input(path, sample_rate) as (reader, _channels, _rate):
        frames = reader.frames
        audio = np.concatenate(list(read_blocks(reader, block)), axis=1)
    assert frames == audio.shape[1]
    return audio


def lag(y, x):
    """Where ``x`` (1-D) lines up in ``y`` (1-D), in samples."""
    return int(np.argmax(signal.correlate(y, x, mode="full", method="fft"))) - (x.size - 1)


@pytest.mark.parametrize("rate, channels, quality", CASES)
def test_an_mp3_is_read_as_its_source_samples(tmp_path, rate, channels, quality):
    x = source(rate, channels)
    path = write_mp3(tmp_path / "x.mp3", x, rate, quality)
    with AudioFile(str(path)) as f:
        decoded = f.read(f.frames)
    assert lag(decoded[0], x[0]) == 1105  # the decoder alone: late and long
    y = read_all(path)
    assert y.shape == x.shape and check_audio_file(path) == x.shape[1]
    assert lag(y[0], x[0]) == 0 and lag(y[-1], x[-1]) == 0
    assert np.sum((y - x) ** 2) < 0.1 * np.sum(x**2)  # the codec's error only


@pytest.mark.parametrize("channels", [1, 2])
def test_a_resampled_read_trims_at_the_files_rate(tmp_path, channels):
    x = source(22050, channels)
    path = write_mp3(tmp_path / "x.mp3", x, 22050)
    y = read_all(path, 44100)
    expected = resample(x, 22050, 44100)
    assert y.shape == expected.shape == (channels, 44100)
    assert lag(y[0], expected[0]) == 0
    assert np.sum((y - expected) ** 2) < 0.1 * np.sum(expected**2)
    assert np.array_equal(read_all(path, 44100, block=777), y)  # whatever the block size


def test_an_mp3_without_a_delay_in_its_tag_is_read_as_decoded(tmp_path):
    x = source(44100, 1)
    path = write_mp3(tmp_path / "x.mp3", x, 44100)
    with AudioFile(str(path)) as f:
        decoded = f.read(f.frames)
    data = path.read_bytes()
    lame = data.index(b"LAME")
    for edit in (data[:lame] + b"XXXX" + data[lame + 4 :],  # no LAME tag
                 data[: lame + 21] + bytes(3) + data[lame + 24 :]):  # delay and padding 0
        path.write_bytes(edit)
        assert mp3_gapless(path) is None
        assert np.array_equal(read_all(path), decoded) and check_audio_file(path) == decoded.shape[1]


@pytest.mark.parametrize("rate, channels", [(44100, 2), (22050, 1)])
def test_restore_and_info_give_the_sources_length_without_the_delay(tiny_bundle, tiny_model, tmp_path, rate, channels):
    x = source(rate, channels)
    path = write_mp3(tmp_path / "x.mp3", x, rate)
    assert main(["restore", str(path), "-o", str(tmp_path / "y.wav"), "--model", str(tiny_bundle), "-q"]) == 0
    with AudioFile(str(tmp_path / "y.wav")) as f:
        y = f.read(f.frames)
    expected = resample(x, rate, 44100)
    assert y.shape == (channels, round(x.shape[1] * 44100 / rate))
    assert lag(y[0], expected[0]) == 0
    report = inspect_input(path, Restorer(tiny_model))
    assert report.seconds == x.shape[1] / rate


def test_an_mp3_reference_clip_is_its_source(tmp_path):
    x = source(44100, 2, seconds=0.5)
    write_mp3(tmp_path / "ref.mp3", x, 44100)
    clip = load_clips([str(tmp_path / "ref.mp3")], None, None, 44100)["ref"]
    assert clip.shape == (x.shape[1],) and lag(clip, x.mean(axis=0)) == 0


def test_a_truncated_mp3_is_still_refused(tiny_bundle, tmp_path, capsys):
    path = write_mp3(tmp_path / "t.mp3", source(44100, 2, seconds=2.0), 44100)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(AudioFileError, match=r"t\.mp3 is damaged .*MP3 header declares \d+ frames, \d+ whole"):
        check_audio_file(path)
    assert main(["restore", str(path), "-o", str(tmp_path / "y.wav"), "--model", str(tiny_bundle), "-q"]) == 1
    assert "t.mp3 is damaged" in capsys.readouterr().err and not (tmp_path / "y.wav").exists()
