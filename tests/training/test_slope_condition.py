"""Training the DiT's slope condition (``dit.slope_condition``): each input window's slope below its band edge,
measured at the band limit's cutoff as the runtime measures it, reaches the model, whose zero-initialised embedding
of it then learns."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.signal import butter, sosfilt

from sagasr_stream.degradation import resample_through
from sagasr_stream.dsp import N_FFT
from sagasr_stream.replication import window_slope
from sagasr_training.data import DataConfig, WindowDataset, collate

SR = 44100


def slope_model() -> torch.nn.Module:
    from sagasr_export.model import build_model, named_config

    config = named_config("tiny")
    config.dit.slope_condition = True
    torch.manual_seed(0)
    return build_model(config)


def test_input_slopes_are_the_runtimes_measure_at_each_windows_edge() -> None:
    from sagasr_training.lightning_module import input_slopes

    rng = np.random.default_rng(0)
    x = rng.standard_normal(16384)
    dark = sosfilt(butter(4, 2000.0, fs=SR, output="sos"), x)
    rows = [resample_through(x, SR, 24000.0), resample_through(dark, SR, 24000.0), resample_through(x, SR, 12000.0)]
    cutoffs = [12000.0, 12000.0, 6000.0]
    batch = {"lr": torch.tensor(np.stack(rows), dtype=torch.float32)[:, None], "cutoff_hz": torch.tensor(cutoffs)}
    got = input_slopes(batch, SR)
    assert got.dtype == torch.float32 and got.shape == (3,)
    want = [window_slope(batch["lr"][i, 0].double().numpy(), SR) for i in range(3)]  # each at its own edge
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-6)
    assert got[1] < -20.0 < got[0] and got[0] > -8.0 and got[2] > -8.0


def test_a_window_whose_edge_the_search_misses_is_measured_at_its_cutoff() -> None:
    """A recording so dark that its spectrum sinks below any drop: no edge of its own (the runtime takes the signal
    so far's), so training measures it at the band limit's cutoff, not as a full-band window's 0."""
    from sagasr_training.lightning_module import input_slopes

    x = np.random.default_rng(1).standard_normal(16384)
    very_dark = sosfilt(butter(4, 1000.0, fs=SR, output="sos"), x)
    lr = resample_through(very_dark, SR, 24000.0)
    assert window_slope(lr, SR) == 0.0  # the search finds no edge
    got = input_slopes({"lr": torch.tensor(lr, dtype=torch.float32)[None, None], "cutoff_hz": torch.tensor([12000.0])},
                       SR)
    assert float(got[0]) == pytest.approx(window_slope(lr, SR, round(12000.0 * N_FFT / SR)), rel=1e-6)
    assert float(got[0]) < -24.0


def test_a_slope_model_trains_its_slope_embedding_from_a_window_batch(audio_dir: Path) -> None:
    from sagasr_training.lightning_module import DiffusionModule

    model = slope_model()
    out = model.conditioner.slope_in.embedder.embedding[1]
    assert not out.weight.any() and not out.bias.any()  # zero-initialised: adds nothing until trained
    with torch.no_grad():  # the rest as a trained model's: SAT's zero-initialised projections pass no gradient
        for name, p in model.named_parameters():
            if not name.startswith("conditioner.slope_in."):
                p.add_(0.05 * torch.randn_like(p))
    ds = WindowDataset(DataConfig(root=str(audio_dir), val_fraction=0.0, window_samples=8192).validate())
    batch = collate([ds[i] for i in range(3)])
    assert batch["cutoff_hz"].shape == (3,) and (batch["cutoff_hz"] > 0).all()
    opt = dict(lr=1e-3, betas=(0.9, 0.999), weight_decay=0.0, inv_gamma=1e6, power=0.5, warmup=0.0,
               ema_decay=0.9, seed=0, save_every=0, run_dir="unused")
    module = DiffusionModule(model.train(), opt)
    module.loss(batch, torch.Generator().manual_seed(1))["loss"].backward()
    assert out.weight.grad is not None and out.weight.grad.abs().sum() > 0
    with torch.no_grad():  # a latent cache's batch: the latents and tokens, no audio
        latents = {"x0": model.encode_audio(batch["hr"]), "lr_latent": model.encode_audio(batch["lr"]),
                   "text_tokens": model.encode_text(*model.tokenize(batch["caption"]))}
    cached = {**{k: v for k, v in batch.items() if k not in ("hr", "lr", "cutoff_hz")}, **latents}
    with pytest.raises(ValueError, match="latent cache"):
        module.loss(cached, torch.Generator().manual_seed(1))


def test_grown_lr_scale_trains_the_new_embedding_in_a_group_of_its_own() -> None:
    from sagasr_training.lightning_module import DiffusionModule

    opt = dict(lr=1e-4, betas=(0.9, 0.999), weight_decay=0.0, inv_gamma=1e6, power=0.5, warmup=0.0,
               ema_decay=0.9, seed=0, save_every=0, run_dir="unused")
    model = slope_model()
    grown = {id(p) for p in model.conditioner.slope_in.parameters()}
    scaled = DiffusionModule(model, {**opt, "grown_lr_scale": 20.0}).configure_optimizers()["optimizer"]
    assert [g["lr"] for g in scaled.param_groups] == pytest.approx([1e-4, 2e-3])
    assert {id(p) for p in scaled.param_groups[1]["params"]} == grown
    assert not grown & {id(p) for p in scaled.param_groups[0]["params"]}
    plain = DiffusionModule(model, opt).configure_optimizers()["optimizer"]
    assert len(plain.param_groups) == 1  # as every run before the option: its saved states resume


def test_a_slope_run_with_a_grown_lr_scale_resumes_as_it_would_have_run_on(audio_dir: Path, tmp_path: Path) -> None:
    import json

    from sagasr_export.model import named_config
    from sagasr_training.checkpointing import latest_state, load_state
    from sagasr_training.train import run

    from .test_train import _cfg, _losses

    config = named_config("tiny").to_dict()
    config["dit"]["slope_condition"] = True
    model_json = tmp_path / "tiny-slope.json"
    model_json.write_text(json.dumps(config))
    common = dict(model=str(model_json), grown_lr_scale=20.0)
    run("diffusion", _cfg(audio_dir, tmp_path / "straight", max_steps=4, **common))
    run("diffusion", _cfg(audio_dir, tmp_path / "split", max_steps=2, **common))
    run("diffusion", _cfg(audio_dir, tmp_path / "split", max_steps=4, **common))
    a, b = _losses(tmp_path / "straight"), _losses(tmp_path / "split")
    assert sorted(a) == sorted(b) == [0, 1, 2, 3] and all(b[k] == pytest.approx(a[k], rel=1e-5) for k in a)
    sa, sb = (load_state(latest_state(tmp_path / name)) for name in ("straight", "split"))
    key = "conditioner.slope_in.embedder.embedding.1.weight"
    assert sa["trainable"][key].abs().max() > 0  # it learned
    torch.testing.assert_close(sa["trainable"][key], sb["trainable"][key], rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="parameter group"):  # the state's two groups do not fit one
        run("diffusion", _cfg(audio_dir, tmp_path / "split", max_steps=6, model=str(model_json)))


def test_train_only_trains_the_named_weights_and_leaves_the_rest_as_loaded(audio_dir: Path, tmp_path: Path) -> None:
    """A grown condition taught alone (``train_only``): the slope embedding moves, the DiT stays bit for bit; a
    resume with other ``train_only`` prefixes is refused, as a resume with another network is."""
    import json

    from sagasr_export.model import named_config
    from sagasr_export.model.checkpoint import load_checkpoint
    from sagasr_training.checkpointing import latest_state, load_state
    from sagasr_training.lightning_module import DiffusionModule
    from sagasr_training.train import run

    from .test_train import _cfg

    with pytest.raises(ValueError, match="no trained weight of this model starts with"):
        DiffusionModule(slope_model(), dict(lr=1e-3, ema_decay=0.9, seed=0, train_only=["conditioner.slope_out."]))
    config = named_config("tiny").to_dict()
    config["dit"]["slope_condition"] = True
    model_json = tmp_path / "tiny-slope.json"
    model_json.write_text(json.dumps(config))
    from safetensors.torch import save_file

    before = slope_model()  # a trained model from before the condition: SAT's zero-initialised projections nudged
    with torch.no_grad():
        for p in before.parameters():
            p.add_(0.05 * torch.randn_like(p))
    save_file({k: v.contiguous() for k, v in before.state_dict().items()
               if k.startswith(("dit.", "conditioner.")) and not k.startswith("conditioner.slope_in.")},
              str(tmp_path / "before.safetensors"))
    only = dict(model=str(model_json), train_only=["conditioner.slope_in."], lr=1e-2,
                init_weights=str(tmp_path / "before.safetensors"))
    run("diffusion", _cfg(audio_dir, tmp_path / "only", max_steps=2, **only))
    state = load_state(latest_state(tmp_path / "only"))
    assert set(state["trainable"]) == {k for k in state["trainable"] if k.startswith("conditioner.slope_in.")}
    assert state["trainable"]["conditioner.slope_in.embedder.embedding.1.weight"].abs().max() > 0
    trained = load_checkpoint(tmp_path / "only" / "checkpoint").state_dict()
    base = load_checkpoint(tmp_path / "only" / "base").state_dict()  # the weights the run started from
    assert all(torch.equal(trained[k], base[k]) for k in base if k.startswith("dit."))
    with pytest.raises(ValueError, match="train_only"):
        run("diffusion", _cfg(audio_dir, tmp_path / "only", max_steps=4, **{**only, "train_only": ["dit."]}))
