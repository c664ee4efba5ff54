import json

import numpy as np
import pytest
from pedalboard.io import AudioFile

from sagasr_stream.cli import main

TUNING, TEST = "000117_03", "000022_05"  # one clip of each split (tests/evaluation/test_splits.py)


@pytest.fixture
def refs(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "refs"
    folder.mkdir()
    for name in (TUNING, TEST):
        with AudioFile(str(folder / f"{name}.flac"), "w", 44100, 1, bit_depth=24) as f:
            f.write((0.2 * rng.standard_normal((1, 44100))).astype(np.float32))
    captions = tmp_path / "captions.jsonl"
    captions.write_text(json.dumps({"path": f"x/{TEST}.flac", "caption": "drum kit, rock beat"}) + "\n")
    return folder, captions


def test_eval_command_writes_a_report_with_every_baseline_and_seams(tiny_bundle, refs, tmp_path):
    out = tmp_path / "report"
    code = main(["eval", str(refs[0]), "-o", str(out), "--model", str(tiny_bundle), "--cutoffs", "4000", "8000",
                 "--pngs", "1", "--overlap", "2048", "--split", "all"])
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    assert report["systems"] == ["input", "sbr", "noise", "vae_only", "model"]
    assert report["split"]["name"] == "all" and report["split"]["tuning"] == [TUNING] and report["split"]["test"] == [TEST]
    assert len(report["summary"]) == 4 and all(e["n_clips"] == 2 for e in report["summary"])
    text = (out / "report.md").read_text()
    assert "tiny-random" in text and "Seam metric" in text and "VAE-only" in text and "noise fill" in text
    assert report["settings"]["band_level"] == "power" and "band level power" in text  # the tiny bundle has no fit
    assert report["settings"]["band_ceiling_db"] == "off" and "band ceiling off" in text  # nor a ceiling
    assert report["settings"]["sbr_blend"] == "off" and "SBR blend off" in text  # nor a blend
    seams = json.loads((out / "seams.json").read_text())
    assert seams["seam_clips"] == 2 and np.isfinite(seams["seam_db_mean"]) and report["seams"] == seams
    assert np.isclose(seams["seam_db_vs_reference"], seams["seam_db_mean"] - seams["reference_seam_db_mean"])
    assert list(out.glob("*.png"))


def test_eval_guidance_and_steps_sweep_produce_their_sections(tiny_bundle, refs, tmp_path):
    out = tmp_path / "report"
    code = main(["eval", str(refs[0]), "-o", str(out), "--model", str(tiny_bundle), "--cutoffs", "8000",
                 "--degradations", "resample", "--pngs", "0", "--overlap", "2048", "--guidance",
                 "--captions", str(refs[1]), "--steps-sweep", "1,2"])
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    assert report["split"]["clips"] == [TEST]  # the default split is test
    g = report["guidance"]
    assert g["split"] == "test" and g["cutoff_hz"] == 8000.0 and g["n_clips"] == 1
    assert set(g["rolloff"]) >= {"reference_mean_hz", "input_mean_hz", "default_mean_hz", "low_mean_hz", "high_mean_hz",
                                 "mean_difference_hz", "share_right_direction"}
    assert set(g["guidance_off"]) >= {"lsd_hf_default", "lsd_hf_off", "mean_change"}
    clip = g["clips"][0]
    assert clip["caption_matching"] == "drum kit, rock beat" and clip["caption_contradicting"] == "solo flute"
    # the tiny random DiT does react to its conditioning: each measurement sees a change
    assert clip["change_matching"] > 0 and clip["change_contradicting"] > 0 and g["guidance_off"]["mean_abs_change"] > 0
    s = report["steps_sweep"]
    assert s["split"] == "tuning" and s["n_clips"] == 1 and s["steps"] == [1, 2]
    assert [r["steps"] for r in s["overall"]] == [1, 2] and len(s["rows"]) == 2
    assert all(set(r) >= {"lsd", "lsd_hf", "env"} for r in s["rows"])
    assert s["overall"][0]["lsd"] != s["overall"][1]["lsd"] and all(o["rtf"] > 0 for o in s["overall"])
    text = (out / "report.md").read_text()
    assert "## Guidance" in text and "## Steps sweep (tuning split, 1 clips)" in text


def test_eval_refuses_a_bad_steps_list_before_running_anything(tiny_bundle, refs, tmp_path, capsys):
    code = main(["eval", str(refs[0]), "-o", str(tmp_path / "r"), "--model", str(tiny_bundle), "--steps-sweep", "1,x"])
    assert code != 0 and "steps sweep must be comma-separated positive integers" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_eval_refuses_a_step_count_given_twice_before_running_anything(tiny_bundle, refs, tmp_path, capsys):
    code = main(["eval", str(refs[0]), "-o", str(tmp_path / "r"), "--model", str(tiny_bundle), "--steps-sweep", "1,2,2"])
    err = capsys.readouterr().err
    assert code == 2 and "2 steps is given twice" in err and "Traceback" not in err
    assert not (tmp_path / "r").exists()


def test_the_steps_sweep_refuses_a_step_count_given_twice_in_the_library_too():
    from sagasr_stream.errors import ParameterError
    from sagasr_stream.evaluation.steps import steps_sweep
    from sagasr_stream.settings import RestoreSettings

    with pytest.raises(ParameterError, match="given twice"):
        steps_sweep(lambda audio, settings: audio, {"x": np.ones(4410, np.float32)}, RestoreSettings(), [2, 2])


def test_eval_refuses_a_steps_sweep_without_tuning_clips_before_running(tiny_bundle, refs, tmp_path, capsys):
    only_test = refs[0] / f"{TEST}.flac"
    code = main(["eval", str(only_test), "-o", str(tmp_path / "r"), "--model", str(tiny_bundle), "--steps-sweep", "1"])
    assert code != 0 and "no clip of the 'tuning' split" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_max_clips_counts_the_clips_of_the_chosen_split(tiny_bundle, refs, tmp_path):
    # the folder lists TEST before TUNING: the first clip of all is not of the tuning split
    out = tmp_path / "r"
    code = main(["eval", str(refs[0]), "-o", str(out), "--model", str(tiny_bundle), "--cutoffs", "8000",
                 "--degradations", "resample", "--pngs", "0", "--overlap", "2048", "--split", "tuning",
                 "--max-clips", "1"])
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    assert report["split"]["clips"] == [TUNING] and report["split"]["tuning"] == [TUNING]
    assert report["summary"][0]["n_clips"] == 1


def test_load_clips_keeps_the_first_n_of_the_split(refs):
    from sagasr_stream.evaluation.references import load_clips

    assert list(load_clips([str(refs[0])], None, 1, 44100, "tuning")) == [TUNING]
    assert list(load_clips([str(refs[0])], None, 1, 44100, "test")) == [TEST]
    assert list(load_clips([str(refs[0])], None, 1, 44100)) == [TEST]


def write_clip(path, seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    with AudioFile(str(path), "w", 44100, 1) as f:
        f.write((0.2 * np.random.default_rng(seed).standard_normal((1, 22050))).astype(np.float32))
    return path


def test_eval_refuses_references_of_the_same_name_before_running(tiny_bundle, tmp_path, capsys):
    a, b = write_clip(tmp_path / "refs" / "a" / "x.wav"), write_clip(tmp_path / "refs" / "b" / "x.wav", seed=1)
    code = main(["eval", str(tmp_path / "refs"), "-o", str(tmp_path / "r"), "--model", str(tiny_bundle),
                 "--split", "all"])
    err = capsys.readouterr().err
    assert code == 2 and f"{a} and {b} would both be clip 'x'" in err and "Traceback" not in err
    assert not (tmp_path / "r").exists()


def test_the_same_reference_given_twice_is_one_clip(tmp_path):
    from sagasr_stream.evaluation.references import load_clips

    y = write_clip(tmp_path / "refs" / "y.wav")
    assert list(load_clips([str(tmp_path / "refs"), str(y)], None, None, 44100)) == ["y"]


def test_a_reference_glob_leaves_out_files_that_are_not_audio(tmp_path):
    from sagasr_stream.errors import SagasrError
    from sagasr_stream.evaluation.references import load_clips

    y = write_clip(tmp_path / "refs" / "y.wav")
    (tmp_path / "refs" / "README.md").write_text("the references")
    assert list(load_clips([str(tmp_path / "refs" / "*")], None, None, 44100)) == ["y"]
    assert list(load_clips([str(tmp_path / "refs")], None, None, 44100)) == ["y"]
    with pytest.raises(SagasrError, match="README.md"):  # named by itself, it is still refused
        load_clips([str(y), str(tmp_path / "refs" / "README.md")], None, None, 44100)


@pytest.mark.parametrize("flag, value", [("--max-clips", "-1"), ("--max-clips", "0"), ("--max-clips", "1.5"),
                                         ("--clip-seconds", "-1"), ("--clip-seconds", "0"), ("--clip-seconds", "nan"),
                                         ("--guidance-cutoff", "0"), ("--guidance-cutoff", "30000"),
                                         ("--guidance-cutoff", "22050"), ("--cutoffs", "-4000")])
def test_eval_refuses_out_of_range_numbers_at_parsing(tmp_path, capsys, flag, value):
    with pytest.raises(SystemExit) as exit_:
        main(["eval", str(tmp_path), "-o", str(tmp_path / "r"), f"{flag}={value}"])
    assert exit_.value.code == 2 and f"argument {flag}" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_the_clip_limits_are_checked_in_the_library_too(tmp_path):
    from sagasr_stream.errors import ParameterError
    from sagasr_stream.evaluation.references import load_clips

    write_clip(tmp_path / "y.wav")
    for seconds, count in ((-1.0, None), (0.0, None), (None, -1), (None, 0)):
        with pytest.raises(ParameterError):
            load_clips([str(tmp_path)], seconds, count, 44100)
    assert load_clips([str(tmp_path)], 0.3, 1, 44100)["y"].shape == (13230,)


def write_audio(path, audio, rate=44100):
    with AudioFile(str(path), "w", rate, audio.shape[0]) as f:
        f.write(audio.astype(np.float32))


def truncate(path):
    write_clip(path)
    path.write_bytes(path.read_bytes()[:200])


@pytest.mark.parametrize("make, message", [
    (lambda p: write_audio(p, np.zeros((2, 44100))), "is digital silence"),  # every score 0, averaged in: halved means
    (truncate, "truncated"),  # decoded as silence and scored before
    (lambda p: write_audio(p, np.full((1, 8000), 0.1), 8000), "must be full-band recordings at >= 44100 Hz"),
])
def test_a_reference_that_cannot_be_scored_is_refused_by_name(tmp_path, make, message):
    from sagasr_stream.errors import AudioFileError, EvaluationError
    from sagasr_stream.evaluation.references import load_clips

    path = tmp_path / "r.wav"
    make(path)
    with pytest.raises((EvaluationError, AudioFileError), match=message):
        load_clips([str(path)], None, None, 44100)
    write_clip(path)  # a 0.1 s cut of a good file: too short for the envelope correlation (it came out +-1)
    with pytest.raises(EvaluationError, match="needs >= 0.25 s"):
        load_clips([str(path)], 0.1, None, 44100)


def cancelling_stereo(path):
    """A 24-bit stereo reference L = x, R = -x: its channels cancel in the mono mix the evaluation scores but for
    the rounding to 24 bits (about 6e-8)."""
    x = 0.2 * np.random.default_rng(0).standard_normal(44100)
    with AudioFile(str(path), "w", 44100, 2, bit_depth=24) as f:
        f.write(np.stack([x, -x]).astype(np.float32))


def test_a_reference_below_the_metrics_floor_is_refused_by_name(tmp_path):
    """Every system scored LSD 0 and LSD-HF 0 on such a clip (its STFT power lies below LSD_EPS): a tie that was
    averaged into the means and counted as a clip lost."""
    from sagasr_stream.errors import EvaluationError
    from sagasr_stream.evaluation.references import load_clips

    cancelling_stereo(tmp_path / "s.flac")
    with AudioFile(str(tmp_path / "s.flac")) as f:
        assert 0 < np.abs(f.read(44100).mean(axis=0)).max() < 1e-6  # not digital silence
    with pytest.raises(EvaluationError, match=r"s\.flac .*below the metrics' floor.*mean of its 2 channels"):
        load_clips([str(tmp_path / "s.flac")], None, None, 44100)
    with AudioFile(str(tmp_path / "q.wav"), "w", 44100, 1, bit_depth=32) as f:  # float: -140 dBFS kept
        f.write((1e-7 * np.sign(np.random.default_rng(1).standard_normal((1, 44100)))).astype(np.float32))
    with pytest.raises(EvaluationError, match=r"q\.wav .*below the metrics' floor"):
        load_clips([str(tmp_path / "q.wav")], None, None, 44100)
    quiet = 1e-3 * np.random.default_rng(2).standard_normal((2, 44100))  # -60 dBFS: scored as before
    with AudioFile(str(tmp_path / "ok.wav"), "w", 44100, 2, bit_depth=32) as f:
        f.write(quiet.astype(np.float32))
    assert np.allclose(load_clips([str(tmp_path / "ok.wav")], None, None, 44100)["ok"], quiet.mean(axis=0), atol=1e-7)


@pytest.mark.parametrize("make, message", [(lambda p: p, "captions file not found: "),
                                           (lambda p: p.mkdir() or p, "is a folder"),
                                           (lambda p: p.write_bytes(b"\xff\xfe\x00") and p, "is not UTF-8 text")])
def test_eval_refuses_an_unusable_captions_file_with_one_line(tiny_bundle, refs, tmp_path, capsys, make, message):
    captions = make(tmp_path / "nope.jsonl")
    code = main(["eval", str(refs[0]), "-o", str(tmp_path / "r"), "--model", str(tiny_bundle), "--captions",
                 str(captions)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and message in err and str(captions) in err
    assert err.count("\n") == 1 and not (tmp_path / "r").exists()


def test_an_output_that_is_a_file_is_refused_before_the_run(tiny_bundle, tmp_path, capsys):
    y = write_clip(tmp_path / "y.wav")
    (tmp_path / "afile").write_text("mine")
    assert main(["eval", str(y), "-o", str(tmp_path / "afile"), "--model", str(tiny_bundle), "--split", "all"]) == 2
    assert "is a file: the evaluation writes a folder" in capsys.readouterr().err  # was FileExistsError, after the run
    assert (tmp_path / "afile").read_text() == "mine"


def test_the_help_says_how_references_of_other_rates_and_channels_are_scored(capsys):
    """It said "44.1 kHz full-band files", yet 48 kHz files are resampled and scored, and a stereo file is scored
    as the mean of its channels (so --stereo, which eval accepts, changes nothing: measured identical report.json)."""
    with pytest.raises(SystemExit):
        main(["eval", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "resampled to 44.1 kHz" in text and "mean of their channels" in text and "--stereo has no effect" in text


def test_an_interrupted_rerun_leaves_no_seams_file_of_the_previous_run(tiny_bundle, refs, tmp_path, monkeypatch):
    """Ctrl-C after the new table was written but before the seams: seams.json of the previous run stayed beside the
    new report.json (which has no seams)."""
    import sagasr_stream.evaluation.seams as seams

    out = tmp_path / "report"
    args = ["eval", str(refs[0]), "-o", str(out), "--model", str(tiny_bundle), "--cutoffs", "8000", "--degradations",
            "resample", "--pngs", "0", "--split", "all"]
    assert main(args) == 0 and (out / "seams.json").is_file()

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(seams, "seam_report", interrupted)
    assert main(args + ["--clip-seconds", "0.5"]) != 0
    assert json.loads((out / "report.json").read_text())["settings"]["clip_seconds"] == 0.5
    assert not (out / "seams.json").exists()


def test_the_guidance_table_names_the_caption_of_the_default_run(tiny_bundle, refs, tmp_path):
    """The table called the default run "no caption", but it runs with the bundle's default caption or --caption
    (the tiny bundle's is "music": the "matching" run of a clip without a caption was then the same run)."""
    out = tmp_path / "report"
    assert main(["eval", str(refs[0]), "-o", str(out), "--model", str(tiny_bundle), "--cutoffs", "8000",
                 "--degradations", "resample", "--pngs", "0", "--overlap", "2048", "--guidance",
                 "--captions", str(refs[1])]) == 0  # the caption rows are of clips with a caption of their own
    report = json.loads((out / "report.json").read_text())
    assert report["settings"]["caption"] == "music" and report["guidance"]["default_caption"] == "music"
    text = (out / "report.md").read_text()
    assert "no caption" not in text and "default caption 'music' / matching / contradicting" in text
