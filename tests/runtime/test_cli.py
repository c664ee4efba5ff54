import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pedalboard.io import AudioFile

from sagasr_stream.cli import main
from sagasr_stream.cli.restore import output_paths
from sagasr_stream.errors import SagasrError
from sagasr_stream.input_files import expand_inputs
from tests.conftest import band_limited_noise


def make_inputs(folder):
    (folder / "sub").mkdir(parents=True)
    for name in ("a.wav", "sub/b.flac"):
        with AudioFile(str(folder / name), "w", 22050, 1) as f:
            f.write(band_limited_noise(11025, channels=1))
    (folder / "notes.txt").write_text("not audio")


def test_upsample_folder_skips_finished_outputs_and_forces(tiny_bundle, tmp_path, capsys):
    make_inputs(tmp_path / "in")
    args = ["upsample", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--model", str(tiny_bundle)]
    assert main(args) == 0
    outputs = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert outputs == ["a.wav", "sub/b.wav"]
    first = (tmp_path / "out" / "a.wav").stat().st_mtime_ns
    assert main(args) == 0
    assert "skip" in capsys.readouterr().err
    assert (tmp_path / "out" / "a.wav").stat().st_mtime_ns == first
    assert main(args + ["--force", "--seed", "2"]) == 0
    assert (tmp_path / "out" / "a.wav").stat().st_mtime_ns != first


def test_upsample_glob_and_options(tiny_bundle, tmp_path):
    make_inputs(tmp_path / "in")
    out = tmp_path / "one.flac"
    code = main(["upsample", str(tmp_path / "in" / "*.wav"), "-o", str(out), "--model", str(tiny_bundle), "-q",
                 "--steps", "2", "--cfg-acoustic", "1.0", "--cfg-text", "0.5", "--target-rolloff", "15000",
                 "--caption", "piano", "--overlap", "1024", "--batch-size", "2", "--low-band", "replace"])
    assert code == 0
    with AudioFile(str(out)) as f:
        assert f.samplerate == 44100 and f.frames == 22050


def test_progress_bars_stay_out_of_a_log_file(tiny_bundle, tmp_path, capsys):
    make_inputs(tmp_path / "in")  # stderr captured: not a terminal, as when a batch job's output goes to a log
    assert main(["upsample", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--model", str(tiny_bundle)]) == 0
    err = capsys.readouterr().err
    assert "\r" not in err and "win/s" not in err and "file/s" not in err
    assert "a.wav ->" in err and "b.flac ->" in err  # the lines a log wants stay


def test_upsample_refuses_to_overwrite_inputs(tiny_bundle, tmp_path, capsys):
    make_inputs(tmp_path / "in")
    src = tmp_path / "in" / "a.wav"
    before = src.read_bytes()
    assert main(["upsample", str(src), "-o", str(src), "--model", str(tiny_bundle), "-q", "--force"]) == 1
    assert "refusing to overwrite" in capsys.readouterr().err
    assert src.read_bytes() == before


def test_bad_arguments_give_errors_not_tracebacks(tiny_bundle, tmp_path, capsys):
    assert main(["upsample", str(tmp_path / "nothing*.wav"), "--model", str(tiny_bundle)]) == 2
    assert "no input matches" in capsys.readouterr().err
    make_inputs(tmp_path / "in")
    assert main(["upsample", str(tmp_path / "in"), "--model", str(tmp_path / "missing")]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["upsample", str(tmp_path / "in"), "--model", str(tiny_bundle), "--overlap", "5"]) == 2
    assert "overlap" in capsys.readouterr().err


def test_an_output_that_can_be_no_folder_is_a_usage_error(tiny_bundle, tmp_path, capsys, monkeypatch):
    """`-o -` (standard output) and `-o FILE` without a suffix where FILE is a file (/dev/null) were taken for
    folders: a folder named "-" was made, or each input failed after the model loaded."""
    make_inputs(tmp_path / "in")
    (tmp_path / "notafolder").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    assert main(["restore", str(tmp_path / "in" / "a.wav"), "-o", "-", "--model", str(tiny_bundle)]) == 2
    err = capsys.readouterr().err
    assert "standard output is not supported" in err and "model " not in err
    assert not (tmp_path / "-").exists()
    assert main(["restore", str(tmp_path / "in"), "-o", str(tmp_path / "notafolder"), "--model", str(tiny_bundle)]) == 2
    err = capsys.readouterr().err
    assert "notafolder is a file, not a folder" in err and "model " not in err


def test_info_prints_the_manifest(tiny_bundle, capsys):
    assert main(["info", "--model", str(tiny_bundle)]) == 0
    out = capsys.readouterr().out
    assert "tiny-random" in out and "8192 samples" in out and "hashes verified" in out


def test_info_says_what_the_bundle_holds(tiny_bundle, tmp_path, capsys):
    """``sagasr info`` lists the graphs and their files, says when there is no text encoder (it used to print the
    DiT's token width as if an encoder were there) and names the archive given, not only its temporary folder."""
    from sagasr_stream.bundle import archive_bundle
    from sagasr_stream.testing import build_tiny_bundle

    assert main(["info", "--model", str(tiny_bundle)]) == 0
    out = capsys.readouterr().out
    assert ("graphs:          vae_encoder (vae_encoder.onnx), vae_decoder (vae_decoder.onnx), dit (dit.onnx), "
            "text_encoder (text_encoder.onnx)") in out
    assert "precision:       float32" in out and "tokenizer wordpiece" in out
    no_text = build_tiny_bundle(tmp_path / "no_text", with_text=False)
    assert main(["info", "--model", str(no_text)]) == 0
    out = capsys.readouterr().out
    assert "text:            no text encoder (captions cannot be used; the DiT takes 16-d tokens)" in out
    assert "text_encoder" not in out
    archive = archive_bundle(tiny_bundle, tmp_path / "tiny.zip")
    assert main(["info", "--model", str(archive)]) == 0
    assert f"location:        {archive} (extracted to " in capsys.readouterr().out


def test_make_test_model_without_onnx_says_what_to_install(tmp_path, capsys, monkeypatch):
    """`pip install .` has no onnx: the command named in the README says so instead of a traceback."""
    monkeypatch.setitem(sys.modules, "onnx", None)  # makes `import onnx` fail
    assert main(["make-test-model", str(tmp_path / "tiny")]) == 2
    assert "pip install 'onnx" in capsys.readouterr().err
    assert not (tmp_path / "tiny").exists()  # no empty folder left to be taken for a bundle


def test_output_paths_beside_inputs(tmp_path):
    make_inputs(tmp_path)
    inputs = expand_inputs([str(tmp_path)])
    assert [p.name for p in output_paths(inputs, None, ".wav")] == ["a_restored.wav", "b_restored.wav"]


def test_a_glob_takes_the_audio_files_it_matches_as_a_folder_does(tmp_path):
    make_inputs(tmp_path / "in")  # a.wav, sub/b.flac and notes.txt
    assert [rel for _, rel in expand_inputs([str(tmp_path / "in" / "*")])] == [Path("a.wav")]
    assert [rel for _, rel in expand_inputs([str(tmp_path / "in" / "**")])] == [Path("a.wav"), Path("sub/b.flac")]
    with pytest.raises(SagasrError, match="no audio files match"):
        expand_inputs([str(tmp_path / "in" / "*.txt")])
    assert [rel for _, rel in expand_inputs([str(tmp_path / "in" / "notes.txt")])] == [Path("notes.txt")]  # named


def test_console_script_and_no_torch_import(tiny_bundle, tmp_path):
    """The runtime restores a file without importing torch (it must work where torch is absent)."""
    make_inputs(tmp_path / "in")
    code = (
        "import sys, sagasr_stream.cli as c; rc = c.main(['upsample', sys.argv[1], '-o', sys.argv[2], '--model', sys.argv[3], '-q']);"
        "assert rc == 0; assert 'torch' not in sys.modules, 'torch was imported'"
    )
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path / "in" / "a.wav"), str(tmp_path / "o.wav"), str(tiny_bundle)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "o.wav").is_file()


def test_rerun_beside_the_inputs_does_not_restore_earlier_outputs(tiny_bundle, tmp_path, capsys):
    make_inputs(tmp_path)
    args = ["upsample", str(tmp_path), "--model", str(tiny_bundle)]  # not -q: the skip lines are checked
    assert main(args) == 0
    assert main(args) == 0  # a_restored.wav is now in the folder: it is an output, not a new input
    err = capsys.readouterr().err
    assert "refusing" not in err and err.count("exists; --force") == 2 and err.count("output of another input") == 2
    names = sorted(p.name for p in tmp_path.rglob("*.wav")) + sorted(p.name for p in tmp_path.rglob("*.flac"))
    assert names == ["a.wav", "a_restored.wav", "b_restored.wav", "b.flac"]
    assert main(args + ["--force"]) == 0
    assert not list(tmp_path.rglob("*_restored_restored.wav"))


def test_rerun_into_an_output_folder_inside_the_input_folder(tiny_bundle, tmp_path, capsys):
    """``restore in -o in/restored`` run again: the earlier results in in/restored are not new inputs, so
    ``--force`` redoes them (it used to refuse every file as an input it would overwrite)."""
    make_inputs(tmp_path / "in")
    out = tmp_path / "in" / "restored"
    args = ["restore", str(tmp_path / "in"), "-o", str(out), "--model", str(tiny_bundle)]
    assert main(args + ["-q"]) == 0
    first = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.wav"))
    assert first == ["a.wav", "sub/b.wav"]
    capsys.readouterr()
    assert main(args + ["--force"]) == 0
    err = capsys.readouterr().err
    assert "leaving out 2 file(s) in the output folder" in err and "2 restored" in err and "refusing" not in err
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.wav")) == first  # no restored/restored
    named = out / "a.wav"  # a file named by itself stays an input, and is never overwritten
    assert main(["restore", str(named), "-o", str(out), "--model", str(tiny_bundle), "--force", "-q"]) == 1
    only_results = ["restore", str(out), "-o", str(out / "again"), "--model", str(tiny_bundle), "-q"]
    assert main(only_results) == 0 and (out / "again" / "a.wav").is_file()
    (tmp_path / "solo" / "res").mkdir(parents=True)
    (out / "a.wav").rename(tmp_path / "solo" / "res" / "a.wav")
    capsys.readouterr()
    assert main(["restore", str(tmp_path / "solo"), "-o", str(tmp_path / "solo" / "res"), "--model", str(tiny_bundle)]) == 2
    assert "every audio file found is in the output folder" in capsys.readouterr().err


def test_an_input_where_another_inputs_output_goes_is_never_overwritten(tiny_bundle, tmp_path, capsys):
    """``x.wav`` and ``x.flac`` in one folder restored into that folder as FLAC: x.wav's output would be the
    user's x.flac. Nothing overwrites it, even with --force (it used to be taken for an earlier output)."""
    folder = tmp_path / "dd"
    make_inputs(folder)
    (folder / "sub" / "b.flac").rename(folder / "a.flac")
    before = (folder / "a.flac").read_bytes()
    args = ["restore", str(folder), "-o", str(folder), "--format", "flac", "--model", str(tiny_bundle)]
    assert main(args) == 0  # a.wav: its output exists (skipped); a.flac: not restored onto itself
    err = capsys.readouterr().err
    assert "skip" in err and "not overwritten" in err
    assert main(args + ["--force"]) == 1
    assert "is an input file; refusing to overwrite it" in capsys.readouterr().err
    assert (folder / "a.flac").read_bytes() == before


def test_a_format_that_the_output_file_name_contradicts_is_refused(tiny_bundle, tmp_path, capsys):
    make_inputs(tmp_path / "in")
    source = str(tmp_path / "in" / "a.wav")
    assert main(["restore", source, "-o", str(tmp_path / "o.wav"), "--format", "flac",
                 "--model", str(tiny_bundle)]) == 2
    assert "--format flac" in capsys.readouterr().err and not (tmp_path / "o.wav").exists()
    assert main(["restore", source, "-o", str(tmp_path / "o.aif"), "--format", "aiff", "--model", str(tiny_bundle),
                 "-q"]) == 0
    assert main(["restore", source, "-o", str(tmp_path / "o.flac"), "--model", str(tiny_bundle), "-q"]) == 0
    with open(tmp_path / "o.flac", "rb") as f:
        assert f.read(4) == b"fLaC"


def test_a_folder_without_audio_files_is_an_error(tiny_bundle, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "texts").mkdir()
    (tmp_path / "texts" / "notes.txt").write_text("not audio")
    (tmp_path / "texts" / ".hidden.wav").write_bytes(b"")
    for folder in ("empty", "texts"):
        assert main(["upsample", str(tmp_path / folder), "--model", str(tiny_bundle), "-q"]) == 2
        assert f"no audio files found in {tmp_path / folder}" in capsys.readouterr().err


def _write(path, seconds=0.25):
    path.parent.mkdir(parents=True, exist_ok=True)
    with AudioFile(str(path), "w", 44100, 1) as f:
        f.write(band_limited_noise(int(44100 * seconds), channels=1))


def test_glob_over_two_folders_mirrors_them_under_the_output(tiny_bundle, tmp_path):
    for folder in ("a", "b"):
        _write(tmp_path / "tapes" / folder / "take.wav")
    out = tmp_path / "out"
    assert main(["upsample", str(tmp_path / "tapes" / "**" / "*.wav"), "-o", str(out), "--model", str(tiny_bundle), "-q"]) == 0
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.wav")) == ["a/take.wav", "b/take.wav"]


def test_same_named_files_from_two_folders_are_an_error_before_any_work(tiny_bundle, tmp_path, capsys):
    for folder in ("a", "b"):
        _write(tmp_path / folder / "take.wav")
    out = tmp_path / "out"
    code = main(["upsample", str(tmp_path / "a"), str(tmp_path / "b"), "-o", str(out), "--model", str(tiny_bundle), "-q"])
    assert code == 2
    err = capsys.readouterr().err
    assert "same output" in err and "take.wav" in err
    assert not out.exists() or not any(out.rglob("*"))


def test_info_input_prints_the_detected_band_edge(tiny_bundle, tmp_path, capsys):
    from sagasr_stream.degradation import resample_through

    from .material import drums_like

    limited = resample_through(drums_like(1.0).astype(np.float64), 44100, 16000).astype(np.float32)
    with AudioFile(str(tmp_path / "lim.wav"), "w", 44100, 1, bit_depth=32) as f:
        f.write(limited[None, :])
    assert main(["info", "--model", str(tiny_bundle), "--input", str(tmp_path / "lim.wav")]) == 0
    out = capsys.readouterr().out
    edge_khz = float(out.split("band edge:")[1].split("kHz")[0])
    assert 7.6 <= edge_khz <= 8.8
    assert "0 of" in out  # nothing passes through
    assert "--band-limit" not in out  # a cut was found: no hint
    with AudioFile(str(tmp_path / "full.wav"), "w", 44100, 1, bit_depth=32) as f:
        f.write(drums_like(1.0)[None, :])
    assert main(["info", "--model", str(tiny_bundle), "--input", str(tmp_path / "full.wav")]) == 0
    assert "full band" in (full := capsys.readouterr().out) and "--band-limit HZ" in full
    with AudioFile(str(tmp_path / "low.wav"), "w", 16000, 1, bit_depth=32) as f:  # a 16 kHz file: 8 kHz Nyquist
        f.write(drums_like(1.0)[None, :])
    assert main(["info", "--model", str(tiny_bundle), "--input", str(tmp_path / "low.wav")]) == 0
    out = capsys.readouterr().out
    assert float(out.split("band edge:")[1].split("kHz")[0]) <= 8.0


def test_band_limit_restores_above_a_cut_the_detector_does_not_see(tiny_bundle, tiny_model, tmp_path):
    from sagasr_stream import restore
    from sagasr_stream.restorer import Restorer

    from .material import drums_like, kept_band_error_db

    x = drums_like(1.0)  # full band: nothing to restore unless the user says where the band ends
    with AudioFile(str(tmp_path / "in.wav"), "w", 44100, 1, bit_depth=32) as f:
        f.write(x[None, :])

    def run(*extra: str):
        out = tmp_path / f"out{len(extra)}.wav"
        assert main(["restore", str(tmp_path / "in.wav"), "-o", str(out), "--model", str(tiny_bundle), "-q",
                     *extra]) == 0
        with AudioFile(str(out)) as f:
            return f.read(f.frames)[0]

    assert np.array_equal(run(), x)
    limited = run("--band-limit", "3000")
    assert not np.array_equal(limited, x)
    assert kept_band_error_db(limited, x, 0.95 * 3000) <= 0.5
    assert np.array_equal(limited, restore(x, 44100, Restorer(tiny_model, band_limit_hz=3000.0)))


def test_a_band_limit_outside_the_band_is_refused_by_name(tiny_bundle, tiny_model, tmp_path, capsys):
    import pytest

    from sagasr_stream.errors import ParameterError
    from sagasr_stream.restorer import Restorer

    for bad in (0.0, -5.0, 30000.0, float("nan"), True):
        with pytest.raises(ParameterError, match="band_limit_hz"):
            Restorer(tiny_model, band_limit_hz=bad)
    make_inputs(tmp_path / "in")
    assert main(["restore", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--model", str(tiny_bundle),
                 "--band-limit", "30000"]) == 2
    assert "band_limit_hz" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_reader_that_leaves_early_gets_no_traceback(tiny_bundle):
    """``sagasr info ... | head -1``: the pipe closes before the output is written; it used to end in a
    BrokenPipeError traceback."""
    code = "import sys, sagasr_stream.cli as c; sys.exit(c.main(['info', '--model', sys.argv[1]]))"
    child = subprocess.Popen([sys.executable, "-c", code, str(tiny_bundle)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    child.stdout.close()  # the reader is gone before the first line
    err = child.stderr.read()
    assert child.wait(timeout=60) == 141 and "Traceback" not in err, err
