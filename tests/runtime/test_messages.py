"""Rough edges a new user hits: clear messages, exit codes, quiet mode, version, early refusals."""
import numpy as np
import pytest
from pedalboard.io import AudioFile

import sagasr_stream
from sagasr_stream import AudioTypeError, RestoreSettings, SagasrError, SettingsError, restore, restore_file
from sagasr_stream.cli import main
from tests.conftest import band_limited_noise


def make(path, n=5000):
    with AudioFile(str(path), "w", 44100, 1) as f:
        f.write(band_limited_noise(n, channels=1))
    return path


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "0", "ten"])
def test_bench_seconds_must_be_a_positive_number(value, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["bench", "--seconds", value])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "--seconds" in err and "seconds" in err and "numpy" not in err.lower()


def test_bench_seconds_has_help_text(capsys):
    with pytest.raises(SystemExit):
        main(["bench", "--help"])
    assert "length of the synthetic test signal in seconds" in capsys.readouterr().out


@pytest.mark.parametrize("settings, message", [
    (RestoreSettings(steps=0), "steps"), (RestoreSettings(cfg_text=float("nan")), "cfg_text"),
    (RestoreSettings(target_rolloff_hz=30000), "target_rolloff_hz: roll-off"), (RestoreSettings(seed=-1), "seed"),
])
def test_settings_errors_come_from_the_package_error_tree(tiny_model, settings, message):
    with pytest.raises(SettingsError, match=message) as info:
        restore(np.zeros(100, np.float32), 44100, tiny_model, settings)
    assert isinstance(info.value, SagasrError) and isinstance(info.value, ValueError)


def test_one_by_one_array_is_one_frame_of_one_channel(tiny_model):
    y = restore(np.full((1, 1), 0.25, np.float32), 44100, tiny_model)
    assert y.shape == (1, 1)


def test_float16_message_says_convert_to_float32_not_integer_pcm(tiny_model):
    with pytest.raises(AudioTypeError, match="float16") as info:
        restore(np.zeros(100, np.float16), 44100, tiny_model)
    assert "astype(np.float32))" in str(info.value) and "integer PCM" not in str(info.value)
    with pytest.raises(AudioTypeError, match="integer PCM"):
        restore(np.zeros(100, np.int16), 44100, tiny_model)


@pytest.mark.parametrize("dtype, hint", [(np.int16, "/ 32768)"), (np.int32, "/ 2147483648)"),
                                         (np.uint8, "(x.astype(np.float32) - 128) / 128)"), (np.complex64, None),
                                         (np.bool_, None)])
def test_the_conversion_hint_fits_the_dtype(tiny_model, dtype, hint):
    with pytest.raises(AudioTypeError, match=np.dtype(dtype).name) as info:
        restore(np.zeros(100, dtype), 44100, tiny_model)
    message = str(info.value)
    assert message.endswith(hint) if hint else "PCM" not in message


def test_bad_output_targets_are_refused_before_the_model_loads(tmp_path, capsys):
    a, b = make(tmp_path / "a.wav"), make(tmp_path / "b.wav")
    missing_model = str(tmp_path / "no-such-model")  # loading it would fail with "not found"
    assert main(["upsample", str(a), "-o", str(tmp_path / "out.m4a"), "--model", missing_model]) == 2
    err = capsys.readouterr().err
    assert "cannot write" in err and "out.m4a" in err and "not found" not in err
    assert main(["upsample", str(a), str(b), "-o", str(tmp_path / "multi.wav"), "--model", missing_model]) == 2
    err = capsys.readouterr().err
    assert "names one file but 2 inputs" in err and "not found" not in err
    assert not (tmp_path / "multi.wav").exists()


def test_ctrl_c_prints_one_line_and_exits_130(tiny_bundle, tmp_path, capsys, monkeypatch):
    src = make(tmp_path / "a.wav", 40000)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("sagasr_stream.processor.ChunkedProcessor.push", interrupted)
    assert main(["upsample", str(src), "-o", str(tmp_path / "o.wav"), "--model", str(tiny_bundle), "-q"]) == 130
    err = capsys.readouterr().err
    assert err.strip().splitlines() == ["interrupted (no partial output was kept)"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.wav"]


def test_quiet_prints_nothing_on_success(tiny_bundle, tmp_path, capsys):
    a, b = make(tmp_path / "a.wav"), make(tmp_path / "b.wav")
    assert main(["upsample", str(a), str(b), "-o", str(tmp_path / "out"), "--model", str(tiny_bundle), "-q"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.strip() == f"sagasr {sagasr_stream.__version__}"


def test_progress_has_its_total_before_the_first_window(tiny_model, tmp_path):
    calls = []
    restore_file(make(tmp_path / "a.wav", 30000), tmp_path / "o.wav", tiny_model, progress=lambda d, t: calls.append((d, t)))
    assert calls[0] == (0, calls[-1][1]) and calls[-1][0] == calls[-1][1] > 1
