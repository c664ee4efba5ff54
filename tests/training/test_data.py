"""Dataset: rates/channels -> 44.1 kHz mono windows, levels, determinism, silence, split, captions, sampler."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from sagasr_training.data import DataConfig, StepBatchSampler, WindowDataset, collate, is_validation, read_window

from .conftest import tone_clip, write_audio

L = 65536


def cfg(root: Path, **kw) -> DataConfig:
    return DataConfig(root=str(root), window_samples=L, val_fraction=0.0, **kw).validate()


def test_read_window_resamples_and_mixes(tmp_path: Path) -> None:
    sr = 22050
    t = np.arange(sr) / sr
    x = np.stack([np.sin(2 * np.pi * 1000 * t), np.sin(2 * np.pi * 1000 * t)]).astype(np.float32) * 0.5
    p = write_audio(tmp_path / "a.wav", x, sr)
    y = read_window(p, 0, 44100, 44100)
    assert y.shape == (44100,) and y.dtype == np.float32
    spec = np.abs(np.fft.rfft(y[2000:2000 + 32768]))
    peak_hz = np.argmax(spec) * 44100 / 32768
    assert abs(peak_hz - 1000) < 5  # a 1 kHz tone stays at 1 kHz after 22.05 -> 44.1 kHz
    assert np.abs(y[5000:40000]).max() == pytest.approx(0.5, rel=0.05)


def test_items_shapes_levels_and_determinism(audio_dir: Path) -> None:
    ds = WindowDataset(cfg(audio_dir, captions=None))
    assert len(ds.files) == 5 and len(ds) >= 5
    for i in range(6):
        it = ds[i]
        assert it["hr"].shape == (1, L) and it["lr"].shape == (1, L) and it["hr"].dtype == torch.float32
        assert float(it["lr"].abs().max()) == pytest.approx(0.5, rel=1e-4)
        assert float(it["hr"].abs().max()) > 1e-3  # silent windows are skipped
        assert 0 < float(it["rolloff_in"]) < float(it["rolloff_out"]) <= 1
        assert float(it["lr_keep"]) in (0.0, 1.0) and float(it["cross_keep"]) in (0.0, 1.0)
    a, b = ds[3], WindowDataset(cfg(audio_dir))[3]
    assert torch.equal(a["hr"], b["hr"]) and torch.equal(a["lr"], b["lr"])
    assert not torch.equal(ds[3]["lr"], ds[4]["lr"])


def test_dropout_rates_are_independent(audio_dir: Path) -> None:
    ds = WindowDataset(cfg(audio_dir, lr_dropout=0.5, cross_dropout=0.5))
    items = [ds[i] for i in range(24)]
    lr = np.array([float(it["lr_keep"]) for it in items])
    cr = np.array([float(it["cross_keep"]) for it in items])
    assert 0 < lr.mean() < 1 and 0 < cr.mean() < 1 and not np.array_equal(lr, cr)


def test_validation_split_and_captions(audio_dir: Path, tmp_path: Path) -> None:
    cache = tmp_path / "captions.jsonl"
    cache.write_text(json.dumps({"path": "piano/piano_a.wav", "caption": "a bright piano"}) + "\n")
    c = DataConfig(root=str(audio_dir), captions=str(cache), val_fraction=0.5, window_samples=L).validate()
    tr, va = WindowDataset(c, "train"), WindowDataset(c, "val")
    assert set(tr.files).isdisjoint(va.files) and len(tr.files) + len(va.files) == 5
    rel = [p.relative_to(audio_dir).as_posix() for p in va.files]
    assert all(is_validation(r, 0.5) for r in rel)
    store = tr.captions
    assert store.get(audio_dir / "piano" / "piano_a.wav") == "a bright piano"
    assert store.get(audio_dir / "guitar" / "strum_c.wav") == "strum c, guitar"  # metadata fallback
    v1, v2 = va[0], WindowDataset(c, "val")[0]
    assert torch.equal(v1["lr"], v2["lr"]) and float(v1["lr_keep"]) == 1.0


def test_all_silent_folder_is_a_clear_error(tmp_path: Path) -> None:
    write_audio(tmp_path / "s.wav", np.zeros((1, 70000), np.float32), 44100)
    with pytest.raises(ValueError, match="silent"):
        WindowDataset(cfg(tmp_path))[0]
    with pytest.raises(ValueError, match="not a folder"):
        DataConfig(root=str(tmp_path / "nope")).validate()


def test_step_sampler_ranks_are_disjoint_and_resumable() -> None:
    a = list(StepBatchSampler(2, 3, 0, rank=0, world=2))
    b = list(StepBatchSampler(2, 3, 0, rank=1, world=2))
    flat = sum(a, []) + sum(b, [])
    assert len(set(flat)) == len(flat) == 12
    assert list(StepBatchSampler(2, 1, 2, rank=1, world=2)) == b[2:]


def test_collate(audio_dir: Path) -> None:
    ds = WindowDataset(cfg(audio_dir))
    batch = collate([ds[0], ds[1]])
    assert batch["hr"].shape == (2, 1, L) and batch["rolloff_in"].shape == (2,) and len(batch["caption"]) == 2


def test_file_list_selects_files_and_names_missing_ones(audio_dir: Path, tmp_path: Path) -> None:
    listing = tmp_path / "train.txt"
    listing.write_text("# training files\npiano/piano_a.wav\n\nguitar/strum_c.wav\n")
    cfg = DataConfig(root=str(audio_dir), val_fraction=0.0, file_list=str(listing)).validate()
    ds = WindowDataset(cfg, "train")
    assert [p.relative_to(audio_dir).as_posix() for p in ds.files] == ["piano/piano_a.wav", "guitar/strum_c.wav"]
    listing.write_text("piano/missing.wav\n")
    with pytest.raises(ValueError, match="missing.wav is not a file"):
        WindowDataset(cfg, "train")
    with pytest.raises(ValueError, match="file_list .* is not a file"):
        DataConfig(root=str(audio_dir), file_list=str(tmp_path / "nope.txt")).validate()


def test_empty_validation_split_falls_back_to_all_files(audio_dir: Path) -> None:
    """val_fraction 0 (or no file hashed into validation): validate on every file, so a silent last file
    ("silence/quiet.wav" sorts last here) cannot make validation fail."""
    va = WindowDataset(cfg(audio_dir), "val")
    assert len(va.files) == 5
    for i in range(len(va)):
        assert float(va[i]["hr"].abs().max()) > 1e-3


def test_a_file_name_that_is_not_utf8_is_named_not_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A Latin-1 file name (from an old archive) on a UTF-8 system: `sagasr-train captions` died with pedalboard's
    TypeError traceback, training with "'utf-8' codec can't encode character '\\udce9'", naming no file."""
    import os

    from sagasr_training.audio_files import scan_audio
    from sagasr_training.cli import main

    write_audio(tmp_path / "ok.wav", tone_clip(44100, 1, 0.5, 220.0, 0), 44100)
    os.rename(tmp_path / "ok.wav", os.fsencode(tmp_path) + b"/caf\xe9.wav")
    with pytest.raises(ValueError, match=r"caf\\xe9\.wav.*not UTF-8.*rename"):
        scan_audio(tmp_path)
    assert main(["captions", str(tmp_path), "--captioner", "metadata"]) == 2
    assert "caf\\xe9.wav" in capsys.readouterr().err


def test_training_takes_the_runtimes_audio_suffixes_and_reads_them(tmp_path: Path) -> None:
    """Training found `.opus` files, which no decoder here reads (and the runtime does not take), by its own list of
    suffixes; now it takes the runtime's (`AUDIO_SUFFIXES`), in any case, and reads each one this platform
    decodes (`.m4a`: macOS only)."""
    from pedalboard.io import get_supported_read_formats, get_supported_write_formats

    from sagasr_stream.input_files import AUDIO_SUFFIXES
    from sagasr_training.audio_files import scan_audio

    x = tone_clip(44100, 1, 0.5, 220.0, 0)
    for suffix in sorted(AUDIO_SUFFIXES):
        (tmp_path / f"clip{suffix.upper()}").write_bytes(b"")
    for other in ("clip.opus", "notes.txt", "clip.wav.bak"):
        (tmp_path / other).write_bytes(b"")
    assert {p.suffix.lower() for p in scan_audio(tmp_path)} == AUDIO_SUFFIXES
    readable = sorted(AUDIO_SUFFIXES & set(get_supported_read_formats()))
    assert {".wav", ".flac", ".aiff", ".aif", ".mp3", ".ogg"} <= set(readable)
    for suffix in readable:
        folder = tmp_path / suffix[1:]
        try:
            write_audio(folder / f"clip{suffix}", x, 44100)
        except ValueError:  # read but not written here (.m4a on macOS): nothing to read it from
            assert suffix not in get_supported_write_formats()
            continue
        ds = WindowDataset(cfg(folder, captions=None))
        assert ds.files == [folder / f"clip{suffix}"]
        assert float(ds[0]["hr"].abs().max()) > 0.1


def _damaged_folder(root: Path) -> Path:
    """Two good clips (one FLAC ending in digital silence) and five damaged files: garbage bytes named .wav, an
    empty .flac, and a WAV, a FLAC, an MP3 and an Ogg file cut to half their length."""
    x = tone_clip(44100, 1, 1.0, 220.0, 0)
    write_audio(root / "good.wav", x, 44100)
    write_audio(root / "good_fade.flac", np.concatenate([x, np.zeros((1, 44100), np.float32)], axis=1), 44100)
    (root / "garbage.wav").write_bytes(b"not audio at all\n" * 64)
    (root / "empty.flac").write_bytes(b"")
    for suffix in (".wav", ".flac", ".mp3", ".ogg"):
        whole = write_audio(root / f"whole{suffix}", x, 44100).read_bytes()
        (root / f"whole{suffix}").unlink()
        (root / f"cut{suffix}").write_bytes(whole[: len(whole) // 2])
    return root


DAMAGED = ["cut.flac", "cut.mp3", "cut.ogg", "cut.wav", "empty.flac", "garbage.wav"]


def test_damaged_audio_files_are_refused_in_one_error_naming_each(tmp_path: Path) -> None:
    """A garbage .wav stopped the data set at the first one with the decoder's message; a cut WAV, FLAC or MP3 was
    taken, its missing part read as zeros. Every file is checked when the data set is built, and one error names
    each damaged file and why (nothing is skipped: the set, its split and a resume's data stay those listed)."""
    root = _damaged_folder(tmp_path / "data")
    with pytest.raises(ValueError) as caught:
        WindowDataset(cfg(root), "train")
    text = str(caught.value)
    assert text.startswith(f"6 of 8 audio files under {root} cannot be trained on")
    lines = text.splitlines()[1:]
    assert len(lines) == len(DAMAGED) and all(line.startswith("  - ") for line in lines)
    for line, name in zip(lines, DAMAGED):  # in path order, each once, with its reason
        assert f"{root / name}" in line and sum(f"/{other}" in line for other in DAMAGED) == 1
    assert "good" not in text
    assert "truncated" in text and "MP3 header declares" in text and "MD5" in text
    for name in ("good.wav", "good_fade.flac"):  # a FLAC ending in digital silence is decoded whole, and taken
        ds = WindowDataset(cfg(root, file_list=None), "train", files=[root / name])
        assert ds.lengths == [44100 * (1 if name == "good.wav" else 2)]


def test_a_damaged_file_stops_sagasr_train_before_a_run_folder_is_made(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture) -> None:
    from sagasr_training.cli import main

    root = _damaged_folder(tmp_path / "data")
    run_dir = tmp_path / "run"
    assert main(["diffusion", "--model", "tiny", "--data", str(root), "--run-dir", str(run_dir), "--accelerator",
                 "cpu", "--max-steps", "1", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "error: 6 of 8 audio files" in err and "Traceback" not in err
    assert all(name in err for name in DAMAGED) and not run_dir.exists()


def test_a_folder_named_tilde_is_read_as_the_file_python_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The clip checks and `audio_frames` gave pedalboard the raw path, whose file layer reads a leading "~" as the
    home folder: a data set under ./~ (a folder literally named "~", as Python and open() read it) took the length
    of $HOME's file of the same name. Now pedalboard is given the path the runtime gives it (`decoder_path`)."""
    from sagasr_training.data import audio_frames

    home, cwd = tmp_path / "home", tmp_path / "cwd"
    write_audio(cwd / "~" / "clip.wav", tone_clip(44100, 1, 0.5, 220.0, 0), 44100)
    write_audio(home / "clip.wav", tone_clip(44100, 1, 1.0, 330.0, 1), 44100)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(cwd)
    assert audio_frames(Path("~/clip.wav"), 44100) == 22050
    assert WindowDataset(cfg(Path("~"), captions=None)).lengths == [22050]
