"""Output rate: the input's rate when >= 44.1 kHz, else 44.1 kHz, or any asked rate; exact lengths."""
import re

import numpy as np
import pytest
from pedalboard.io import AudioFile

from sagasr_stream import AudioFileError, AudioInputError, restore, restore_file
from sagasr_stream.cli import main
from sagasr_stream.rates import default_output_rate, describe_rates
from sagasr_stream.streaming import ResampleStage


def write(path, rate, seconds=4.0, channels=1):
    n = int(round(seconds * rate))
    t = np.arange(n) / rate
    x = np.tile(0.3 * np.sin(2 * np.pi * 300 * t), (channels, 1)).astype(np.float32)
    with AudioFile(str(path), "w", rate, channels, bit_depth=32) as f:
        f.write(x)
    return path


def read(path):
    with AudioFile(str(path)) as f:
        return f.read(f.frames), f.samplerate


def test_default_output_rate():
    assert default_output_rate(48000, 44100) == 48000
    assert default_output_rate(96000, 44100) == 96000
    assert default_output_rate(8000, 44100) == 44100
    assert describe_rates(48000, 44100, 48000) == "48000 Hz -> resampled to 44100 Hz -> restored -> written at 48000 Hz (the input kept, the change resampled)"


@pytest.mark.parametrize("rate, asked, out_rate, length", [
    (48000, None, 48000, 192000),  # 4.000 s: exactly the input's length, at its rate
    (8000, None, 44100, 176400),  # not 176399
    (48000, 44100, 44100, 176400),
    (8000, 22050, 22050, 88200),
    (44100, 48000, 48000, 192000),
])
def test_restore_file_writes_the_right_rate_and_exact_length(tiny_model, tmp_path, rate, asked, out_rate, length):
    src = write(tmp_path / "in.wav", rate)
    lines = []
    y, got_rate = read(restore_file(src, tmp_path / "out.wav", tiny_model, output_rate=asked, log=lines.append))
    assert got_rate == out_rate and y.shape == (1, length)
    assert f"written at {out_rate} Hz" in lines[0] and f"{rate} Hz" in lines[0]


def test_odd_lengths_round_as_documented(tiny_model, tmp_path):
    src = write(tmp_path / "in.wav", 48000, seconds=1001 / 48000)
    y, _ = read(restore_file(src, tmp_path / "a.wav", tiny_model, output_rate=8000))
    assert y.shape[1] == round(1001 * 8000 / 48000)


def test_array_api_output_rate(tiny_model):
    x = (0.3 * np.sin(np.arange(48000) / 7)).astype(np.float32)
    assert restore(x, 48000, tiny_model).shape == (48000,)
    assert restore(x, 48000, tiny_model, output_rate=44100).shape == (44100,)
    assert restore(x[:8000], 8000, tiny_model).shape == (44100,)
    with pytest.raises(AudioInputError, match="sample rate"):
        restore(x, 48000, tiny_model, output_rate=0)


def test_output_resampling_is_the_model_rate_result_resampled(tiny_model):
    """Restoration happens at 44.1 kHz: the 48 kHz output is the 44.1 kHz output resampled (block-independent)."""
    x = (0.3 * np.sin(np.arange(30000) / 5)).astype(np.float32)[None]
    at_model = restore(x, 44100, tiny_model)
    from sagasr_stream.audio_io import resample

    np.testing.assert_allclose(restore(x, 44100, tiny_model, output_rate=48000), resample(at_model, 44100, 48000)[:, :32653],
                               atol=1e-6)
    streamed = ResampleStage(44100, 48000, 1, length=32653)
    y = np.concatenate([streamed.process(at_model[:, i : i + 777]) for i in range(0, 30000, 777)] + [streamed.flush()], axis=1)
    assert y.shape == (1, 32653)
    np.testing.assert_allclose(y, resample(at_model, 44100, 48000)[:, :32653], atol=1e-6)


def test_cli_output_rate_and_log(tiny_bundle, tmp_path, capsys):
    src = write(tmp_path / "in.wav", 48000, seconds=1.0)
    assert main(["upsample", str(src), "-o", str(tmp_path / "o.wav"), "--model", str(tiny_bundle)]) == 0
    assert read(tmp_path / "o.wav")[0].shape == (1, 48000) and read(tmp_path / "o.wav")[1] == 48000
    assert "48000 Hz -> resampled to 44100 Hz -> restored -> written at 48000 Hz" in capsys.readouterr().err
    assert main(["upsample", str(src), "-o", str(tmp_path / "p.flac"), "--model", str(tiny_bundle), "-q",
                 "--output-rate", "22050"]) == 0
    assert read(tmp_path / "p.flac")[0].shape == (1, 22050) and read(tmp_path / "p.flac")[1] == 22050


# --- a rate the output format cannot hold ------------------------------------------------------------------------

FLAC_REFUSAL = r"cannot write \S*out\.flac: FLAC holds sample rates of 1000\.\.65535 Hz, and multiples of 10 Hz up " \
               r"to 655350 Hz; not {rate} Hz"


@pytest.mark.parametrize("rate", [768000, 655360, 65537, 100001])
def test_restore_file_refuses_a_flac_rate_before_loading_the_model_or_reading_the_input(tmp_path, no_model, rate):
    """768 kHz FLAC was refused only once the model was loaded and the input decoded and checked whole, by
    pedalboard's "supported sample rates: 8000, ..., 384000" (1000 Hz or 655350 Hz are written all the same)."""
    source = tmp_path / "in.wav"
    source.write_bytes(b"not audio: never read")
    with pytest.raises(AudioFileError, match=FLAC_REFUSAL.format(rate=rate)):
        restore_file(source, tmp_path / "out.flac", output_rate=rate)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav"]


def test_restore_file_refuses_a_flac_at_the_inputs_rate_before_restoring(tiny_model, tmp_path, monkeypatch):
    """No output_rate: a 768 kHz input's output is at 768 kHz, which FLAC cannot hold; refused once its header
    is read, before the input is checked or restored."""
    import sagasr_stream.api as api

    src = write(tmp_path / "in.wav", 768000, seconds=0.01)
    monkeypatch.setattr(api, "check_audio_file", lambda path: pytest.fail("the input was decoded"))
    with pytest.raises(AudioFileError, match=FLAC_REFUSAL.format(rate=768000)):
        restore_file(src, tmp_path / "out.flac", tiny_model)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav"]


def test_flac_rates_it_holds_are_written(tiny_model, tmp_path):
    src = write(tmp_path / "in.wav", 44100, seconds=0.05)
    for rate in (1000, 65535, 655350):
        y, got = read(restore_file(src, tmp_path / "out.flac", tiny_model, output_rate=rate, overwrite=True))
        assert got == rate and y.shape == (1, round(0.05 * rate))


def test_cli_refuses_a_flac_rate_before_loading_the_model(tmp_path, no_model, capsys):
    src = write(tmp_path / "in.wav", 48000, seconds=0.01)
    assert main(["restore", str(src), "-o", str(tmp_path / "out.flac"), "--output-rate", "768000"]) == 2
    err = capsys.readouterr().err
    assert re.search(FLAC_REFUSAL.format(rate=768000), err) and "Supported sample rates" not in err
    assert main(["restore", str(src), "-o", str(tmp_path / "outs"), "--format", "flac", "--output-rate", "65537"]) == 2
    assert re.search(r"cannot write \S*in\.flac: FLAC holds .*; not 65537 Hz", capsys.readouterr().err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav"]
