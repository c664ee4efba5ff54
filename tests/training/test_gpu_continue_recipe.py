"""training/recipes/default_model_v3_gpu_continue.sh, dry-run on the CPU with a tiny analytic-VAE model: clips from
the data parts that arrived, xz-compressed caption tokens, the kept EMA checkpoints slimmed and sent back as one tar
in pieces whose SHA-256 checks, over two calls when one call cannot bring them all back; the kept checkpoints
scored by the probe, its best kept."""
from __future__ import annotations

import hashlib
import io
import json
import lzma
import os
import subprocess
import sys
import tarfile
import warnings
from pathlib import Path

import pytest
import torch

from tests.export.test_mdct import mdct_config

from .conftest import tone_clip, write_audio

REPO = Path(__file__).resolve().parents[2]
RECIPE = REPO / "training" / "recipes" / "default_model_v3_gpu_continue.sh"
TEXT_DIM = 24  # the tiny config's text encoder width


def _tokens(paths: list[str], out: Path) -> Path:
    """An xz-compressed text-token file for ``paths`` (random tokens: the bank only indexes them)."""
    from safetensors.torch import save
    from sagasr_training.pair_bank import TOKENS_FORMAT

    blob = save({"tokens": torch.randn(len(paths), 12, TEXT_DIM).half()},
                metadata={"format": TOKENS_FORMAT, "paths": json.dumps(paths),
                          "captions": json.dumps([""] * len(paths))})
    out.write_bytes(lzma.compress(blob))
    return out


def _init_weights(config: dict, folder: Path) -> Path:
    """The trained tensors of a fresh tiny model on ``config``, as a slim file (what --init-weights takes)."""
    from sagasr_export.model import build_model
    from sagasr_export.model.checkpoint import save_checkpoint
    from sagasr_training.transfer import slim_run

    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        save_checkpoint(build_model(config), folder / "run" / "checkpoint")
    return slim_run(folder / "run", folder / "slim")


def test_dry_run_trains_on_the_parts_that_arrived_and_sends_back_the_kept_checkpoints(tmp_path: Path) -> None:
    config = mdct_config()
    (tmp_path / "model.json").write_text(json.dumps(config))
    names = ["a_tone.flac", "a_other.flac", "b_tone.flac"]
    for i, name in enumerate(names):
        part = "a" if name.startswith("a_") else "b"
        write_audio(tmp_path / part / "clips" / name, tone_clip(44100, 1, 1.0, 220.0 * (i + 1), i), 44100)
    captions = tmp_path / "captions.jsonl"
    captions.write_text("".join(json.dumps({"path": f"clips/{n}", "caption": "solo tone"}) + "\n" for n in names))
    tokens = _tokens([f"clips/{n}" for n in names], tmp_path / "tokens.safetensors.xz")
    env = {**os.environ, "PYTHON": sys.executable, "PARTS": f"{tmp_path / 'a'} {tmp_path / 'b'} {tmp_path / 'c'}",
           "MODEL": str(tmp_path / "model.json"), "INIT": str(_init_weights(config, tmp_path / "init")),
           "CAPTIONS": str(captions), "TOKENS": str(tokens),
           "CONFIG": str(REPO / "training" / "configs" / "small-mdct-gpu-continue.json"), "MINUTES": "5",
           "KEEP": "best 2", "PROBE_SETS": f"tones={tmp_path / 'a' / 'clips'}", "OUT": str(tmp_path / "out"), "RUN": str(tmp_path / "run"), "DATA_DIR": str(tmp_path / "data"),
           "PKGS": str(tmp_path / "pkgs"), "PIECE": "64K", "RETURN_PIECES": "1",
           "EXTRA": "--accelerator cpu --precision 32-true --batch-size 2 --bank-versions 1 --bank-workers 1 "
                    "--save-every 2 --max-steps 4 --log-every 1 --lr 1e-3 --warmup 0 --ema-decay 0.5"}
    done = subprocess.run(["bash", str(RECIPE)], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "clips: 3" in done.stdout and "not here" in done.stdout  # part c never arrived

    out = tmp_path / "out"
    assert [p.name for p in out.glob("ckpt.tar.part-*")] == ["ckpt.tar.part-00"]  # one piece per call, as asked
    assert "left on the machine" in done.stdout
    rest = subprocess.run(["bash", str(RECIPE)], env={**env, "RETURN_FROM": "1", "RETURN_PIECES": "99",
                                                      "OUT": str(tmp_path / "rest")},
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert rest.returncode == 0 and "sagasr_training diffusion" not in rest.stdout, rest.stderr[-3000:]
    assert not (tmp_path / "rest" / "ckpt.tar.part-00").exists()  # the second call sends only the rest
    for piece in (tmp_path / "rest").glob("ckpt.tar.part-*"):
        piece.rename(out / piece.name)
    pieces = sorted(out.glob("ckpt.tar.part-*"))
    assert len(pieces) > 1 and all(p.stat().st_size <= 64 * 2**10 for p in pieces)
    joined = b"".join(p.read_bytes() for p in pieces)
    assert hashlib.sha256(joined).hexdigest() == (out / "SHA256").read_text().strip()
    with tarfile.open(fileobj=io.BytesIO(joined)) as tar:
        members = {m.name.removeprefix("./") for m in tar.getmembers() if m.isfile()}
        assert members == {"metrics.csv", "probe.md", "probe.json", "step-2/checkpoint/model.safetensors",
                           "step-2/checkpoint/config.json", "step-4/checkpoint/model.safetensors",
                           "step-4/checkpoint/config.json"}
        tar.extractall(tmp_path / "back", filter="data")
    probed = json.loads((tmp_path / "back" / "probe.json").read_text())
    assert list(probed) == ["start", "2", "4"] and all(list(row) == ["tones"] for row in probed.values())
    best = min(("2", "4"), key=lambda step: probed[step]["tones"])
    assert f"lowest probe sum: step {best}" in done.stdout  # "best" in KEEP: that step comes back (with the last)
    from safetensors.torch import load_file

    from sagasr_export.model import build_model
    from sagasr_export.model.checkpoint import load_trained_weights

    early = load_file(str(tmp_path / "back" / "step-2" / "checkpoint" / "model.safetensors"))
    late = load_file(str(tmp_path / "back" / "step-4" / "checkpoint" / "model.safetensors"))
    assert any(not torch.equal(early[k], late[k]) for k in early)  # two different points of the run
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert load_trained_weights(build_model(config), tmp_path / "back" / "step-4" / "checkpoint" /
                                    "model.safetensors") > 0
