"""`sagasr-train probe`: a held-out loss at the default run's condition, the same pairs for every weights file."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from sagasr_training.cli import main
from sagasr_training.probe import ProbeSet
from tests.export.test_mdct import mdct_config

from .conftest import tone_clip, write_audio
from .test_gpu_continue_recipe import _init_weights


@pytest.fixture(scope="module")
def candidates(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path], Path]:
    """A tiny mdct-env model's config, its weights, the same weights copied and a nudged copy; a folder of tones."""
    root = tmp_path_factory.mktemp("probe")
    config = mdct_config(window=8192)
    (root / "model.json").write_text(json.dumps(config))
    start = _init_weights(config, root / "init")
    tensors = load_file(str(start))
    save_file(tensors, str(root / "copy.safetensors"))
    generator = torch.Generator().manual_seed(1)
    nudged = {k: v + 0.05 * torch.randn(v.shape, generator=generator).to(v.dtype) if k.startswith("dit.") else v
              for k, v in tensors.items()}
    save_file(nudged, str(root / "nudged.safetensors"))
    for i in range(3):
        write_audio(root / "clips" / f"tone_{i}.flac", tone_clip(44100, 1, 1.0, 330.0 * (i + 1), i), 44100)
    weights = {"start": start, "copy": root / "copy.safetensors", "nudged": root / "nudged.safetensors"}
    return root / "model.json", weights, root / "clips"


def test_probe_scores_every_weights_file_on_the_same_pairs(candidates: tuple[Path, dict[str, Path], Path],
                                                           tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config, weights, clips = candidates
    args = ["probe", "--model", str(config), "--set", f"tones={clips}", "--set", f"first={clips}:1",
            "--windows", "6", "--batch", "4", "--json", str(tmp_path / "probe.json")]
    args += [a for name, path in weights.items() for a in ("--weights", f"{name}={path}")]
    assert main(args) == 0
    table = json.loads((tmp_path / "probe.json").read_text())
    assert list(table) == ["start", "copy", "nudged"] and all(list(row) == ["tones", "first"] for row in table.values())
    assert table["start"] == table["copy"]  # same weights, same pairs and noise: the same numbers
    assert table["nudged"]["tones"] != table["start"]["tones"]  # other weights, another loss
    assert all(0 < loss < 100 for row in table.values() for loss in row.values())
    shown = capsys.readouterr().out
    assert shown.startswith("| weights | tones | first | sum |") and "| nudged |" in shown
    assert main(args) == 0 and json.loads((tmp_path / "probe.json").read_text()) == table  # deterministic


def test_a_training_condition_scores_the_same_windows_under_the_config_s_draws(
        candidates: tuple[Path, dict[str, Path], Path], tmp_path: Path) -> None:
    config, weights, clips = candidates
    base = ["probe", "--model", str(config), "--set", f"tones={clips}", "--windows", "4", "--batch", "4",
            "--weights", f"start={weights['start']}", "--weights", f"nudged={weights['nudged']}"]

    def table(*extra: str) -> dict[str, dict[str, float]]:
        out = tmp_path / f"probe{len(list(tmp_path.iterdir()))}.json"
        assert main(base + ["--json", str(out), *extra]) == 0
        return json.loads(out.read_text())

    one_step = {"time_one_fraction": 1.0, "caption_dropout": 1.0, "rolloff_unknown_fraction": 1.0,
                "data": {"lr_dropout": 0.0, "cross_dropout": 0.0, "degrade": {"target_tilt_fraction": 0.0}}}
    (tmp_path / "one_step.json").write_text(json.dumps(one_step))
    training = {"time_one_fraction": 0.0, "rolloff_unknown_fraction": 0.5, "logit_mean": 0.5,
                "data": {"lr_dropout": 0.5, "degrade": {"target_tilt_fraction": 1.0}}}
    (tmp_path / "training.json").write_text(json.dumps(training))
    inference = table()
    assert table("--training-condition", str(tmp_path / "one_step.json")) == inference  # the default's own draws
    drawn = table("--training-condition", str(tmp_path / "training.json"))
    assert drawn["start"]["tones"] != inference["start"]["tones"]  # other times, targets and conditions
    assert drawn == table("--training-condition", str(tmp_path / "training.json"))  # the same draws every time
    assert main(base + ["--training-condition", str(tmp_path / "gone.json")]) == 2


def test_the_band_lsd_metric_scores_the_one_step_pairs_above_each_cutoff(
        candidates: tuple[Path, dict[str, Path], Path], tmp_path: Path) -> None:
    from sagasr_training.probe import probe_loss

    config, weights, clips = candidates
    base = ["probe", "--model", str(config), "--set", f"tones={clips}", "--windows", "4", "--batch", "4",
            "--weights", f"start={weights['start']}", "--weights", f"nudged={weights['nudged']}"]
    tables = []
    for name, metric in (("generated", []), ("lsd", ["--metric", "band_lsd"]), ("again", ["--metric", "band_lsd"])):
        assert main(base + ["--json", str(tmp_path / f"{name}.json"), *metric]) == 0
        tables.append(json.loads((tmp_path / f"{name}.json").read_text()))
    generated, lsd, again = tables
    assert lsd == again and lsd != generated  # another measure of the same pairs, the same every time
    assert all(v > 0 for row in lsd.values() for v in row.values())
    assert lsd["nudged"]["tones"] != lsd["start"]["tones"]
    with pytest.raises(ValueError, match="probe metric"):
        probe_loss(None, [], 0, metric="loss")


def test_probe_set_text_and_missing_audio_are_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert ProbeSet.parse("ms7=/data/ms7/clips:40") == ProbeSet("ms7", Path("/data/ms7/clips"), 40)
    assert ProbeSet.parse("t=C:/clips") == ProbeSet("t", Path("C:/clips"), 0)  # a colon not before digits: the path's
    for text in ("ms7", "=x", "a="):
        with pytest.raises(ValueError, match="NAME=FOLDER"):
            ProbeSet.parse(text)
    with pytest.raises(FileNotFoundError, match="not a folder"):
        ProbeSet("gone", tmp_path / "gone").files()
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no audio files"):
        ProbeSet("empty", tmp_path / "empty").files()
    assert main(["probe", "--model", "m.json", "--weights", "w", "--set", f"e={tmp_path / 'empty'}"]) == 2
    assert "NAME=SAFETENSORS" in capsys.readouterr().err
