"""Latent cache: encoded once, it trains the DiT exactly as the on-the-fly pipeline does."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from sagasr_training.cli import main
from sagasr_training.data import DataConfig
from sagasr_training.latent_cache import LatentCacheDataset
from sagasr_training.train import load_train_config, run

from .test_train import _losses


def _cfg(audio_dir: Path, run_dir: Path, cache: Path | None = None) -> object:
    data = {"root": str(audio_dir), "val_fraction": 0.0, "lr_dropout": 0.0, "cross_dropout": 0.0,
            "latent_cache": str(cache) if cache else None}
    return load_train_config({"data": data}, model="tiny", run_dir=str(run_dir), batch_size=2, max_steps=2,
                             save_every=0, val_every=1000, val_batches=0, log_every=1, progress=False, lr=1e-4,
                             seed=3, accelerator="cpu", devices=1)


def test_training_from_the_cache_matches_training_from_audio(audio_dir: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache.safetensors"
    args = ["cache-latents", "--model", "tiny", "--data", str(audio_dir), "--val-fraction", "0", "--seed", "3",
            "--out", str(cache), "--items", "4", "--encode-batch", "3", "--no-progress"]
    assert main(args) == 0
    tensors = load_file(str(cache))
    assert tensors["x0"].shape == tensors["lr_latent"].shape and tensors["x0"].shape[0] == 4
    assert tensors["text_tokens"].dtype == torch.float16 and tensors["rolloff_in"].shape == (4,)
    assert not torch.equal(tensors["x0"], tensors["lr_latent"])  # HR and band-limited windows differ

    run("diffusion", _cfg(audio_dir, tmp_path / "audio"))
    run("diffusion", _cfg(audio_dir, tmp_path / "cached", cache))
    a, b = _losses(tmp_path / "audio"), _losses(tmp_path / "cached")
    assert sorted(a) == sorted(b) == [0, 1]
    for k in a:  # only the float16 text tokens differ
        assert b[k] == pytest.approx(a[k], rel=2e-3), (k, a, b)


def test_cache_dataset_redraws_dropouts_and_holds_out_the_last_items(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    n = 10
    tensors = {"x0": torch.randn(n, 4, 2), "lr_latent": torch.randn(n, 4, 2),
               "text_tokens": torch.randn(n, 3, 8).half(), "rolloff_in": torch.rand(n), "rolloff_out": torch.rand(n)}
    path = tmp_path / "c.safetensors"
    save_file(tensors, str(path))
    cfg = DataConfig(val_fraction=0.2, lr_dropout=0.5, cross_dropout=0.5, latent_cache=str(path)).validate()
    train, val = LatentCacheDataset(path, cfg, "train"), LatentCacheDataset(path, cfg, "val")
    assert train.items == list(range(8)) and val.items == [8, 9]
    keeps = {(float(train[i]["lr_keep"]), float(train[i]["cross_keep"])) for i in range(200)}
    assert keeps == {(0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0)}  # every CFG pass state is trained
    assert all(float(val[i]["lr_keep"]) == float(val[i]["cross_keep"]) == 1.0 for i in range(4))
    torch.testing.assert_close(train[8]["x0"], tensors["x0"][0])  # epochs wrap around
    assert train[3]["text_tokens"].dtype == torch.float32


def test_cache_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="latent_cache .* is not a file"):
        DataConfig(latent_cache=str(tmp_path / "missing.safetensors")).validate()
    from safetensors.torch import save_file

    save_file({"x0": torch.zeros(2, 1, 1)}, str(tmp_path / "bad.safetensors"))
    with pytest.raises(ValueError, match="lacks"):
        LatentCacheDataset(tmp_path / "bad.safetensors", DataConfig())


def test_latent_shift_and_scale_give_zero_mean_unit_variance_channels(audio_dir: Path, tmp_path: Path) -> None:
    import json

    import numpy as np
    from sagasr_export.model import build_model, load_config, named_config

    from sagasr_training.data import WindowDataset, collate
    from sagasr_training.latent_cache import latent_stats
    from sagasr_training.train import write_scaled_model_config

    out = tmp_path / "model.json"
    args = ["latent-scale", "--model", "tiny", "--data", str(audio_dir), "--val-fraction", "0", "--seed", "3",
            "--out", str(out), "--items", "4"]
    assert main(args) == 0
    cfg = load_config(out)
    c = cfg.vae.latent_dim
    assert json.loads(out.read_text())["name"] == "sagasr-tiny"
    assert len(cfg.latent_shift) == len(cfg.latent_scale) == c

    run_cfg = _cfg(audio_dir, tmp_path / "unused")
    run_cfg.seed = 3
    stats = write_scaled_model_config(run_cfg, tmp_path / "again.json", 4)  # also prepares run_cfg.data
    assert stats == {"latent_shift": cfg.latent_shift, "latent_scale": cfg.latent_scale}  # deterministic
    torch.manual_seed(3)  # the command's fresh weights (seeded by --seed)
    mean, std = latent_stats(build_model(named_config("tiny")), run_cfg.data, 4)
    np.testing.assert_allclose(mean, cfg.latent_shift, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(1 / std, cfg.latent_scale, rtol=1e-5)
    hr = collate([WindowDataset(run_cfg.data, "train")[i] for i in range(4)])["hr"]
    torch.manual_seed(3)
    with torch.no_grad():
        z = build_model(cfg).encode_audio(hr).double()  # same weights, the shifted and scaled config
    np.testing.assert_allclose(z.mean(dim=(0, 2)).numpy(), 0.0, atol=1e-4)
    np.testing.assert_allclose(z.std(dim=(0, 2), unbiased=False).numpy(), 1.0, rtol=1e-3)


def test_a_cache_of_another_model_is_refused_naming_it(audio_dir: Path, tmp_path: Path) -> None:
    """A cache encoded by another model (other latent channels or frames, another text width) is refused before
    training, naming the cache and both shapes (it failed deep inside the DiT)."""
    from safetensors.torch import save_file

    n = 4
    tensors = {"x0": torch.randn(n, 3, 5), "lr_latent": torch.randn(n, 3, 5), "text_tokens": torch.randn(n, 2, 7).half(),
               "rolloff_in": torch.rand(n), "rolloff_out": torch.rand(n)}
    cache = tmp_path / "other.safetensors"
    save_file(tensors, str(cache))
    with pytest.raises(ValueError, match="other.safetensors .*another model"):
        run("diffusion", _cfg(audio_dir, tmp_path / "run", cache))
