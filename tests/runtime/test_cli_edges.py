"""Command-line edges: AIFF output, failures while writing, the partial cleanup and the run's inputs, long
names, argument ranges refused at parsing, ``info --input`` refusals, and when the per-file line is printed."""
import os
import subprocess
import sys

import numpy as np
import pytest
from pedalboard.io import AudioFile

from sagasr_stream.audio_io import partial_path
from sagasr_stream.cli import main
from tests.conftest import band_limited_noise


def make(path, n=5000, rate=44100):
    path.parent.mkdir(parents=True, exist_ok=True)
    with AudioFile(str(path), "w", rate, 1) as f:
        f.write(band_limited_noise(n, channels=1))
    return path


def make_nan(path):
    x = band_limited_noise(5000, channels=1)
    x[0, 100] = np.nan
    with AudioFile(str(path), "w", 44100, 1, bit_depth=32) as f:
        f.write(x)
    return path


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_aiff_output_is_written(tiny_bundle, tmp_path, capsys):
    src = make(tmp_path / "in.wav")
    assert main(["restore", str(src), "-o", str(tmp_path / "out.aiff"), "--model", str(tiny_bundle), "-q"]) == 0
    assert main(["restore", str(src), "-o", str(tmp_path / "dir"), "--format", "aiff", "--model", str(tiny_bundle),
                 "-q"]) == 0
    for out in (tmp_path / "out.aiff", tmp_path / "dir" / "in.aiff"):
        with AudioFile(str(out)) as f:
            assert f.file_dtype == "int24" and f.frames == 5000
    assert capsys.readouterr().err == ""


def test_a_failure_while_writing_names_the_output(tiny_bundle, tmp_path, capsys, monkeypatch):
    src = make(tmp_path / "in.wav")
    real = AudioFile

    def refusing(path, mode="r", *args, **kwargs):
        if mode == "w":
            raise ValueError("No space left on device")
        return real(path, mode, *args, **kwargs)

    monkeypatch.setattr("sagasr_stream.audio_io.AudioFile", refusing)
    out = tmp_path / "o.wav"
    assert main(["restore", str(src), "-o", str(out), "--model", str(tiny_bundle), "-q"]) == 1
    err = capsys.readouterr().err
    assert f"error: cannot write {out}: No space left on device\n" in err
    assert f"error: {src}" not in err  # not reported as a problem of the input


def test_the_cleanup_never_deletes_an_input(tiny_bundle, tmp_path, capsys):
    src = make(tmp_path / f".take.partial-{dead_pid()}.wav")  # the user's file, named like an old partial
    assert main(["restore", str(src), "--model", str(tiny_bundle)]) == 0
    assert src.is_file() and "removed" not in capsys.readouterr().err
    assert (tmp_path / f"{src.stem}_restored.wav").is_file()


def test_the_cleanup_removes_stale_partials_of_both_namings(tiny_bundle, tmp_path, capsys):
    src = make(tmp_path / "in.wav")
    out = tmp_path / "out"
    out.mkdir()
    dead = dead_pid()
    new = out / partial_path(out / "in.wav").name.replace(f"-{os.getpid()}.", f"-{dead}.")
    old = out / f".in.partial-{dead}.wav"
    for leftover in (new, old):
        leftover.write_bytes(b"RIFF....")
    assert main(["restore", str(src), "-o", str(out), "--model", str(tiny_bundle)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["in.wav"]
    err = capsys.readouterr().err
    assert f"removed {new}" in err and f"removed {old}" in err


def test_an_input_name_of_250_bytes_is_restored_to_the_same_name(tiny_bundle, tmp_path):
    src = make(tmp_path / ("b" * 250 + ".wav"))
    assert main(["restore", str(src), "-o", str(tmp_path / "out") + "/", "--model", str(tiny_bundle), "-q"]) == 0
    assert os.listdir(tmp_path / "out") == [src.name]


@pytest.mark.parametrize("output", ["a" * 300 + ".wav", "a" * 300 + "/", "a" * 300 + "/x.wav"])
def test_an_output_name_too_long_is_a_usage_error_before_the_model_loads(tmp_path, capsys, output):
    src = make(tmp_path / "in.wav")
    assert main(["restore", str(src), "-o", str(tmp_path / output), "--model", str(tmp_path / "no-model")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot write ") and "bytes long" in err and err.count("\n") == 1
    assert "not found" not in err and "Traceback" not in err


@pytest.mark.parametrize("rate", ["0", "-1", "1", "999", "1000000", "48k", "44100.5"])
def test_a_bad_output_rate_is_a_usage_error(tmp_path, capsys, rate):
    src = make(tmp_path / "in.wav")
    with pytest.raises(SystemExit) as exit_:
        main(["restore", str(src), "-o", str(tmp_path / "o.wav"), f"--output-rate={rate}"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert f"argument --output-rate: expected a whole number of Hz in 1000..768000, got '{rate}'" in err
    assert not (tmp_path / "o.wav").exists()


def test_the_output_rate_range_ends_are_accepted(tiny_bundle, tmp_path):
    src = make(tmp_path / "in.wav", n=4410)
    for rate in (1000, 768000):
        out = tmp_path / f"o{rate}.wav"
        assert main(["restore", str(src), "-o", str(out), "--output-rate", str(rate), "--model", str(tiny_bundle),
                     "-q"]) == 0
        with AudioFile(str(out)) as f:
            assert f.samplerate == rate and f.frames == rate // 10


def test_the_file_line_comes_only_after_the_file_is_written(tiny_bundle, tmp_path, capsys):
    good, bad = make(tmp_path / "in" / "a.wav"), make_nan(tmp_path / "in" / "b.wav")
    assert main(["restore", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--model", str(tiny_bundle)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert "b.wav: " not in "\n".join(line for line in err if "written at" in line)  # nothing says b was written
    assert any(line == f"error: {bad} holds NaN/Inf samples" for line in err)
    rate_line = next(i for i, line in enumerate(err) if line.startswith("a.wav: ") and "written at 44100 Hz" in line)
    assert err[rate_line + 1] == f"{good} -> {tmp_path / 'out' / 'a.wav'}"
    assert not (tmp_path / "out" / "b.wav").exists()


def test_info_refuses_an_input_with_nan_as_restore_does(tiny_bundle, tmp_path, capsys):
    src = make_nan(tmp_path / "nan.wav")
    assert main(["info", "--model", str(tiny_bundle), "--input", str(src)]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"error: {src} holds NaN/Inf samples\n" and "band edge" not in captured.out


def test_info_says_a_folder_is_a_folder(tiny_bundle, tmp_path, capsys):
    assert main(["info", "--model", str(tiny_bundle), "--input", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"error: input {tmp_path} is a folder; expected one audio file\n"


def test_info_refuses_a_band_limit_without_an_input(tiny_bundle, capsys):
    assert main(["info", "--model", str(tiny_bundle), "--band-limit", "3000"]) == 2
    captured = capsys.readouterr()
    assert "--band-limit needs --input" in captured.err and captured.out == ""


@pytest.mark.parametrize("value", ["0.00001", "0.0009"])
def test_bench_refuses_less_than_one_sample(value, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["bench", "--seconds", value])
    assert exit_.value.code == 2
    assert "argument --seconds: must be a number of seconds in [0.001, 86400]" in capsys.readouterr().err


def test_bench_runs_at_its_shortest_length(tiny_bundle, capsys):
    assert main(["bench", "--seconds", "0.001", "--model", str(tiny_bundle)]) == 0
    assert "0.001 s of audio" in capsys.readouterr().out
