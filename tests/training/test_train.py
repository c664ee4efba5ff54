"""Training: scheduler, EMA, overfitting, exact resume, VAE, two-process DDP (gloo), CLI."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from sagasr_training.checkpointing import latest_state, load_state
from sagasr_training.data import DataConfig, WindowDataset, collate
from sagasr_training.schedulers import InverseLR
from sagasr_training.train import load_train_config, run

REPO = Path(__file__).resolve().parents[2]


def test_inverse_lr_formula_and_state_roundtrip() -> None:
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.AdamW([p], lr=1e-3)
    s = InverseLR(opt, inv_gamma=10.0, power=0.5, warmup=0.9)
    lrs = []
    for _ in range(5):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        s.step()
    want = [1e-3 * (1 - 0.9 ** (k + 1)) * (1 + k / 10) ** -0.5 for k in range(5)]
    assert np.allclose(lrs, want, rtol=1e-9)
    s2 = InverseLR(torch.optim.AdamW([p], lr=1e-3), inv_gamma=10.0, power=0.5, warmup=0.9)
    s2.load_state_dict(json.loads(json.dumps(s.state_dict())))
    assert s2.get_last_lr() == s.get_last_lr()


def test_ema_warmup_and_fine_tune_average() -> None:
    """With the warm-up the average follows the first steps almost at once; without it (a fine-tune) it starts
    from the initial weights and leaves them at the full decay."""
    from sagasr_training.ema import EMA

    p = torch.nn.Parameter(torch.zeros(1))
    warm, fine = EMA({"p": p}, decay=0.99), EMA({"p": p}, decay=0.99, warmup=False)
    with torch.no_grad():
        p.fill_(1.0)
    for _ in range(3):
        warm.update({"p": p})
        fine.update({"p": p})
    assert fine.shadow["p"].item() == pytest.approx(1 - 0.99 ** 3)
    assert warm.shadow["p"].item() == pytest.approx(1 - (1 / 10) * (2 / 11) * (3 / 12))


def _cfg(audio_dir: Path, run_dir: Path, **kw) -> object:
    base = dict(model="tiny", run_dir=str(run_dir), batch_size=2, max_steps=4, save_every=2, val_every=1000,
                val_batches=0, log_every=1, progress=False, lr=1e-4, seed=3, accelerator="cpu", devices=1)
    base.update(kw)
    return load_train_config({"data": {"root": str(audio_dir), "val_fraction": 0.0}}, **base)


def _losses(run_dir: Path) -> dict[int, float]:
    """train/step -> train/loss from every CSV log of a run."""
    out: dict[int, float] = {}
    for f in sorted((run_dir / "logs").glob("*/metrics.csv")):
        for row in csv.DictReader(f.open()):
            if row.get("train/loss") and row.get("train/step"):
                out[int(float(row["train/step"]))] = float(row["train/loss"])
    return out


def test_tiny_model_overfits_a_few_clips(audio_dir: Path) -> None:
    from sagasr_export.model import build_model, named_config

    from sagasr_training.lightning_module import DiffusionModule

    torch.manual_seed(0)
    model = build_model(named_config("tiny"))
    opt = dict(lr=2e-3, betas=(0.9, 0.999), weight_decay=0.0, inv_gamma=1e6, power=0.5, warmup=0.0,
               ema_decay=0.9, seed=0, save_every=0, run_dir="unused")
    mod = DiffusionModule(model.train(), opt)
    ds = WindowDataset(DataConfig(root=str(audio_dir), val_fraction=0.0, lr_dropout=0.0, cross_dropout=0.0).validate())
    batch = collate([ds[i] for i in range(3)])
    with torch.no_grad():  # cache the frozen encodings: the test is about the DiT learning
        batch_lat = {"x0": model.encode_audio(batch["hr"]), "lr": model.encode_audio(batch["lr"])}
    ids, mask = model.tokenize(batch["caption"])
    tokens = model.encode_text(ids, mask)

    def loss(seed: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(seed)
        t = torch.sigmoid(torch.randn(3, generator=g))
        noise = torch.randn(batch_lat["x0"].shape, generator=g)
        x_t = (1 - t[:, None, None]) * batch_lat["x0"] + t[:, None, None] * noise
        v = model.velocity(x_t, t, batch_lat["lr"], batch["lr_keep"], tokens, batch["cross_keep"],
                           batch["rolloff_in"], batch["rolloff_out"])
        return torch.mean((v - (noise - batch_lat["x0"])) ** 2)

    def held_out() -> float:
        with torch.no_grad():
            return float(sum(loss(10_000 + k) for k in range(8)) / 8)

    optim = torch.optim.AdamW(mod.trained().values(), lr=2e-3)
    before = held_out()
    for step in range(60):
        optim.zero_grad()
        loss(step).backward()
        optim.step()
    after = held_out()
    print(f"overfit: held-out loss {before:.3f} -> {after:.3f}")
    assert after < 0.5 * before, (before, after)


def test_save_resume_matches_uninterrupted_run(audio_dir: Path, tmp_path: Path) -> None:
    straight = tmp_path / "straight"
    run("diffusion", _cfg(audio_dir, straight, max_steps=4))
    split = tmp_path / "split"
    run("diffusion", _cfg(audio_dir, split, max_steps=2))
    st = latest_state(split)
    assert st is not None and st.name == "step-00000002"
    assert sorted(p.name for p in st.iterdir()) == ["ema.safetensors", "optimizer.safetensors", "state.json",
                                                     "trainable.safetensors"]
    # resumes at step 2; a data-loader worker does not change the data (items depend on their index only)
    run("diffusion", _cfg(audio_dir, split, max_steps=4, **{"data.num_workers": 1}))
    a, b = _losses(straight), _losses(split)
    assert sorted(a) == sorted(b) == [0, 1, 2, 3]
    for k in a:
        assert b[k] == pytest.approx(a[k], rel=1e-5, abs=1e-7), (k, a, b)
    sa, sb = load_state(latest_state(straight)), load_state(latest_state(split))
    assert sa["info"]["step"] == sb["info"]["step"] == 4
    for k in sa["trainable"]:
        torch.testing.assert_close(sa["trainable"][k], sb["trainable"][k], rtol=1e-5, atol=1e-6)
    # the exportable checkpoint loads with sagasr_export
    from sagasr_export.model.checkpoint import load_checkpoint

    m = load_checkpoint(split / "checkpoint")
    full = m.state_dict()
    for k, v in sb["ema"].items():  # the checkpoint carries the EMA weights
        torch.testing.assert_close(full[k], v)
    from sagasr_training.cli import main

    assert main(["export", str(split), "-o", str(tmp_path / "bundle")]) == 0  # handed to sagasr_export
    manifest = json.loads((tmp_path / "bundle" / "manifest.json").read_text())
    assert "dit" in json.dumps(manifest)


def test_kept_checkpoints_are_each_saves_ema_and_slim_like_a_run(audio_dir: Path, tmp_path: Path) -> None:
    """``keep_checkpoints``: every save's EMA checkpoint stays as kept/step-N (the run's own checkpoint/ is
    replaced each time), each a folder ``sagasr-train slim`` takes; without it nothing is kept."""
    from safetensors.torch import load_file

    from sagasr_training.transfer import slim_run

    run("diffusion", _cfg(audio_dir, tmp_path / "plain", max_steps=2, save_every=1))
    assert not (tmp_path / "plain" / "kept").exists()
    kept_run = tmp_path / "kept"
    run("diffusion", _cfg(audio_dir, kept_run, max_steps=4, save_every=2, keep_checkpoints=True))
    kept = sorted(p.name for p in (kept_run / "kept").iterdir())
    assert kept == ["step-00000002", "step-00000004"]
    for name in kept:
        assert sorted(p.name for p in (kept_run / "kept" / name).iterdir()) == ["checkpoint", "run.json"]
    last = kept_run / "kept" / "step-00000004" / "checkpoint"
    for f in ("model.safetensors", "training.json"):
        assert (last / f).read_bytes() == (kept_run / "checkpoint" / f).read_bytes()
    assert json.loads((kept_run / "kept" / "step-00000002" / "checkpoint" / "training.json").read_text())["step"] == 2
    early = load_file(str(slim_run(kept_run / "kept" / "step-00000002", tmp_path / "slim2")))
    late = load_file(str(slim_run(kept_run / "kept" / "step-00000004", tmp_path / "slim4")))
    assert early.keys() == late.keys() and any(not torch.equal(early[k], late[k]) for k in early)


def test_vae_training_runs_and_loads_into_model(audio_dir: Path, tmp_path: Path) -> None:
    from sagasr_export.model import build_model, named_config

    from sagasr_training.vae import load_autoencoder_weights, mrstft_loss

    x = torch.randn(2, 1, 8192)
    assert float(mrstft_loss(x, x)) < 1e-5 and float(mrstft_loss(x * 0.5, x)) > 0.1
    out = run("vae", _cfg(audio_dir, tmp_path / "vae", max_steps=2, lr=1e-3))
    assert (out / "autoencoder.safetensors").is_file()
    rows = _losses(tmp_path / "vae")
    assert sorted(rows) == [0, 1] and all(np.isfinite(v) for v in rows.values())
    model = build_model(named_config("tiny"))
    load_autoencoder_weights(model, out)
    from safetensors.torch import load_file

    w = load_file(str(out / "autoencoder.safetensors"))
    k = next(iter(w))
    torch.testing.assert_close(model.autoencoder.state_dict()[k], w[k])
    # a diffusion run picks the trained VAE up and keeps it frozen
    run("diffusion", _cfg(audio_dir, tmp_path / "dif", max_steps=1, vae_weights=str(out)))
    trained = load_file(str(tmp_path / "dif" / "checkpoint" / "model.safetensors"))
    for k, v in w.items():
        torch.testing.assert_close(trained["autoencoder." + k], v)


def test_lsd_loss_is_the_evaluation_metric() -> None:
    from sagasr_stream.evaluation.metrics import log_spectral_distance

    from sagasr_training.vae import lsd_loss

    g = torch.Generator().manual_seed(0)
    ref = torch.randn(1, 1, 44100, generator=g) * 0.2
    est = ref * 0.5 + torch.randn(1, 1, 44100, generator=g) * 0.01
    want = log_spectral_distance(est[0, 0].numpy(), ref[0, 0].numpy())
    assert float(lsd_loss(est, ref)) == pytest.approx(want, rel=0.02)
    assert float(lsd_loss(ref, ref)) < 1e-4


def test_decoder_fine_tune_keeps_the_encoder_and_feeds_an_export(audio_dir: Path, tmp_path: Path) -> None:
    """``vae_parts="decoder"`` from trained VAE weights: the encoder (the DiT's latent space) stays bit-exact,
    the decoder learns with the LSD term logged; the exporter swaps that decoder into a diffusion checkpoint
    and refuses one whose encoder moved."""
    from safetensors.torch import load_file, save_file

    from sagasr_export.model.checkpoint import load_checkpoint, save_checkpoint
    from sagasr_export.cli import main as export_main
    from sagasr_export.model import build_model, named_config

    first = run("vae", _cfg(audio_dir, tmp_path / "vae", max_steps=1, lr=1e-3))
    tuned = run("vae", _cfg(audio_dir, tmp_path / "dec", max_steps=2, lr=1e-3, vae_parts="decoder", lsd_weight=1.0,
                            vae_weights=str(first)))
    a, b = load_file(str(first / "autoencoder.safetensors")), load_file(str(tuned / "autoencoder.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a if k.startswith("encoder."))
    assert any(not torch.equal(a[k], b[k]) for k in a if k.startswith("decoder."))
    rows = list(csv.DictReader(next((tmp_path / "dec" / "logs").glob("*/metrics.csv")).open()))
    assert any(r.get("train/lsd") for r in rows)

    model = build_model(named_config("tiny"))
    model.autoencoder.load_state_dict(a)
    save_checkpoint(model, tmp_path / "ck")
    assert export_main([str(tmp_path / "ck"), "-o", str(tmp_path / "bundle"), "--no-text-encoder",
                        "--vae-decoder", str(tuned), "--save-checkpoint", str(tmp_path / "ck2")]) == 0
    swapped = load_checkpoint(tmp_path / "ck2").autoencoder.state_dict()
    assert all(torch.equal(swapped[k], v) for k, v in b.items())
    moved = dict(b, **{k: v + 1 for k, v in b.items() if k.startswith("encoder.")})
    save_file(moved, str(tmp_path / "moved.safetensors"))
    assert export_main([str(tmp_path / "ck"), "-o", str(tmp_path / "b2"), "--vae-decoder",
                        str(tmp_path / "moved.safetensors")]) == 2


def test_two_process_ddp_on_cpu(audio_dir: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "ddp"
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    cmd = [sys.executable, "-m", "sagasr_training", "diffusion", "--model", "tiny", "--data", str(audio_dir),
           "--val-fraction", "0", "--run-dir", str(run_dir), "--max-steps", "2", "--batch-size", "1",
           "--save-every", "2", "--val-batches", "0", "--log-every", "1", "--accelerator", "cpu", "--devices", "2",
           "--strategy", "ddp", "--no-progress"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    st = latest_state(run_dir)
    assert st is not None and json.loads((st / "state.json").read_text())["step"] == 2
    assert sorted(_losses(run_dir)) == [0, 1]


@pytest.mark.parametrize("bad", [{"vae_parts": "encoder"}, {"lsd_weight": -1.0}])
def test_bad_vae_options_are_refused(tmp_path: Path, bad: dict) -> None:
    with pytest.raises(ValueError, match=next(iter(bad))):
        load_train_config({"data": {"root": str(tmp_path)}}, **bad).validate()


def test_cli_rejects_bad_config(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from sagasr_training.cli import main

    (tmp_path / "c.json").write_text(json.dumps({"model": "tiny", "bogus": 1}))
    assert main(["diffusion", "--config", str(tmp_path / "c.json"), "--data", str(tmp_path)]) == 2
    assert "bogus" in capsys.readouterr().err
    assert main(["diffusion", "--model", "tiny", "--data", str(tmp_path / "missing")]) == 2
    assert main(["export", str(tmp_path), "-o", str(tmp_path / "b")]) == 2


def test_shipped_configs_follow_the_paper() -> None:
    for name in ("small", "vae-small"):
        cfg = load_train_config(REPO / "training" / "configs" / f"{name}.json")
        assert cfg.model == "small" and cfg.betas == (0.9, 0.999) and cfg.weight_decay == 1e-3
        assert (cfg.inv_gamma, cfg.power, cfg.warmup) == (1e6, 0.5, 0.99)
    cfg = load_train_config(REPO / "training" / "configs" / "small.json")
    assert cfg.lr == 1e-5 and (cfg.data.lr_dropout, cfg.data.cross_dropout) == (0.1, 0.1)


@pytest.mark.parametrize("path", sorted((REPO / "training" / "configs").glob("*.json")), ids=lambda p: p.stem)
def test_every_shipped_config_loads_and_validates(path: Path, tmp_path: Path) -> None:
    """A recipe's config with a misspelt key or an out-of-range value fails here, not hours into a run (its data
    paths, which the recipes fill in, point at stand-ins)."""
    stand_in = tmp_path / "file"
    stand_in.write_text("")
    data = json.loads(path.read_text())["data"]
    paths = {f"data.{k}": str(stand_in) for k in ("captions", "latent_cache", "text_tokens", "file_list") if data.get(k)}
    cfg = load_train_config(path, **{"data.root": str(tmp_path), **paths})
    assert cfg.validate() is cfg


def test_the_one_step_config_trains_the_samplers_time_from_the_committed_weights() -> None:
    cfg = load_train_config(REPO / "training" / "configs" / "small-mdct-cpu-onestep.json")
    assert cfg.time_one_fraction == 0.5 and cfg.ema_warmup is False and cfg.rolloff_unknown_fraction == 0.6


def test_config_file_with_gradient_accumulation_and_logs(audio_dir: Path, tmp_path: Path) -> None:
    """``sagasr-train diffusion --config FILE``: 2 optimizer steps of 2 accumulated micro-batches each; the EMA and
    the optimizer advance once per optimizer step; CSV and TensorBoard logs are written."""
    from sagasr_training.cli import main

    run_dir = tmp_path / "acc"
    config = {"model": "tiny", "run_dir": str(run_dir), "data": {"root": str(audio_dir), "val_fraction": 0.0},
              "max_steps": 2, "batch_size": 1, "accumulate": 2, "save_every": 0, "val_batches": 0, "log_every": 1,
              "progress": False, "accelerator": "cpu", "devices": 1, "lr": 1e-4, "seed": 3}
    (tmp_path / "run.json").write_text(json.dumps(config))
    assert main(["diffusion", "--config", str(tmp_path / "run.json")]) == 0
    st = load_state(latest_state(run_dir))
    assert st["info"]["step"] == 2 and st["info"]["ema_updates"] == 2
    adam_steps = {float(v) for k, v in st["optimizer_tensors"].items() if k.endswith(".step")}
    assert adam_steps == {2.0}
    assert json.loads((run_dir / "run.json").read_text())["accumulate"] == 2
    assert sorted(_losses(run_dir)) == [0, 1]
    assert list((run_dir / "tb").rglob("events.out.tfevents.*"))


def test_bf16_mixed_precision(audio_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """"auto" is bf16-mixed on CUDA and 32-true on CPU; the bf16 autocast path (the GPU default) trains and
    validates (run here on CPU, where Lightning supports bf16-mixed too); weights stay float32."""
    from sagasr_training.train import _precision

    cfg = _cfg(audio_dir, tmp_path / "bf16", max_steps=1, precision="bf16-mixed", val_batches=1, val_every=1)
    assert _precision(_cfg(audio_dir, tmp_path / "x", accelerator="auto", precision="auto")) == (
        "bf16-mixed" if torch.cuda.is_available() else "32-true")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert _precision(_cfg(audio_dir, tmp_path / "x", accelerator="auto", precision="auto")) == "bf16-mixed"
    assert _precision(_cfg(audio_dir, tmp_path / "x", accelerator="cpu", precision="auto")) == "32-true"
    monkeypatch.undo()
    run("diffusion", cfg)
    st = load_state(latest_state(tmp_path / "bf16"))
    assert st["info"]["step"] == 1 and all(v.dtype == torch.float32 for v in st["trainable"].values())
    rows = [r for f in (tmp_path / "bf16" / "logs").glob("*/metrics.csv") for r in csv.DictReader(f.open())]
    assert any(r.get("val/loss") for r in rows) and all(np.isfinite(v) for v in _losses(tmp_path / "bf16").values())


def _tiny_loss_fn(audio_dir: Path) -> tuple[Any, dict, Callable[..., float]]:
    """A tiny model with every weight nudged off its initialisation (the DiT's zero-initialised projections would
    hide the text and time paths from the loss), a batch of 3 windows of ``audio_dir``, and ``loss(batch, **opt)``:
    the diffusion loss of that batch under fixed draws with the given training options."""
    from sagasr_export.model import build_model, named_config

    from sagasr_training.lightning_module import DiffusionModule

    torch.manual_seed(0)
    model = build_model(named_config("tiny"))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    ds = WindowDataset(DataConfig(root=str(audio_dir), val_fraction=0.0, lr_dropout=0.0, cross_dropout=0.0).validate())
    batch = collate([ds[i] for i in range(3)])
    opt = dict(lr=1e-3, betas=(0.9, 0.999), weight_decay=0.0, inv_gamma=1e6, power=0.5, warmup=0.0,
               ema_decay=0.9, seed=0, save_every=0, run_dir="unused")

    def loss(b: dict, **changes: float) -> float:
        mod = DiffusionModule(model.eval(), {**opt, **changes})
        with torch.no_grad():
            return float(mod.loss(b, torch.Generator().manual_seed(3))["loss"])

    return model, batch, loss


def test_an_mdct_env_model_reports_the_loss_of_the_channels_its_dit_generates(audio_dir: Path) -> None:
    """The excitation channels of an mdct-env latent keep their noise (velocity 0), so their share of the flow loss
    is the same whatever the weights: two DiTs differ in the whole loss by exactly the generated channels' share of
    their difference in ``generated``; a model whose DiT generates every channel reports no ``generated``."""
    from sagasr_export.model import build_model, load_config, named_config

    from sagasr_training.lightning_module import DiffusionModule
    from tests.export.test_mdct import mdct_config

    config = mdct_config(window=8192)
    ds = WindowDataset(DataConfig(root=str(audio_dir), val_fraction=0.0, window_samples=8192).validate())
    batch = collate([ds[i] for i in range(3)])
    opt = dict(lr=1e-3, betas=(0.9, 0.999), weight_decay=0.0, inv_gamma=1e6, power=0.5, warmup=0.0,
               ema_decay=0.9, seed=0, save_every=0, run_dir="unused", time_one_fraction=1.0)
    losses = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        model = build_model(load_config(config)).eval()
        with torch.no_grad():
            for p in model.dit.parameters():
                p.add_(0.05 * torch.randn_like(p))
            out = DiffusionModule(model, opt).loss(batch, torch.Generator().manual_seed(3))
        losses.append((float(out["loss"]), float(out["generated"])))
    generated, channels = model.config.generated_channels, model.config.vae.latent_dim
    assert 0 < generated < channels
    (whole_a, gen_a), (whole_b, gen_b) = losses
    assert abs(gen_a - gen_b) > 1e-4  # the two DiTs predict differently ...
    assert whole_a - whole_b == pytest.approx((gen_a - gen_b) * generated / channels, rel=1e-3)  # ... only there
    _, plain_batch, _ = _tiny_loss_fn(audio_dir)
    with torch.no_grad():
        plain = DiffusionModule(build_model(named_config("tiny")).eval(), opt).loss(plain_batch,
                                                                                    torch.Generator().manual_seed(3))
    assert set(plain) == {"loss"}


def test_caption_dropout_trains_the_empty_caption_with_its_rolloffs(audio_dir: Path) -> None:
    """caption_dropout 1: every pair is trained as the runtime runs an empty caption (zero text tokens), roll-offs
    kept; the same loss as feeding zero tokens, and not the loss with the captions."""
    model, batch, batch_loss = _tiny_loss_fn(audio_dir)
    ids, mask = model.tokenize(batch["caption"])
    with torch.no_grad():
        tokens = model.encode_text(ids, mask)

    def loss(caption_dropout: float, text_tokens: torch.Tensor) -> float:
        return batch_loss({**batch, "text_tokens": text_tokens}, caption_dropout=caption_dropout)

    assert tokens.abs().sum() > 0
    dropped = loss(1.0, tokens)
    assert dropped == loss(0.0, torch.zeros_like(tokens))
    assert dropped != loss(0.0, tokens)


def test_time_one_fraction_trains_the_one_step_samplers_time(audio_dir: Path) -> None:
    """time_one_fraction 1: every pair at t = 1 (pure noise), so the logit-normal draw no longer matters; at 0 the
    loss is the plain objective's, draw for draw."""
    _, batch, batch_loss = _tiny_loss_fn(audio_dir)

    def loss(**changes: float) -> float:
        return batch_loss(batch, **changes)

    assert loss(time_one_fraction=1.0, logit_mean=-3.0) == loss(time_one_fraction=1.0, logit_mean=3.0)
    assert loss(time_one_fraction=0.0, logit_mean=-3.0) != loss(time_one_fraction=0.0, logit_mean=3.0)
    assert loss(time_one_fraction=0.0) == loss()


def test_a_save_interrupted_while_writing_the_checkpoint_is_redone(audio_dir: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The final save dies half-way through the exportable checkpoint: the rerun must not find a state at
    max_steps beside a torn checkpoint ("nothing to do"), but redo the step and write a checkpoint that loads."""
    from sagasr_export.model.checkpoint import load_checkpoint

    from sagasr_training.lightning_module import DiffusionModule

    def torn(self: Any, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "model.safetensors").write_bytes(b"torn")
        raise RuntimeError("killed while writing the checkpoint")

    run_dir = tmp_path / "run"
    with monkeypatch.context() as m:
        m.setattr(DiffusionModule, "export", torn)
        with pytest.raises(RuntimeError, match="killed"):
            run("diffusion", _cfg(audio_dir, run_dir, max_steps=1, save_every=0))
    assert latest_state(run_dir) is None  # the state of a step is written after its checkpoint
    run("diffusion", _cfg(audio_dir, run_dir, max_steps=1, save_every=0))
    load_checkpoint(run_dir / "checkpoint")
    assert json.loads((run_dir / "checkpoint" / "training.json").read_text())["step"] == 1


def _save_tiny_state(run_dir: Path, step: int) -> Path:
    from sagasr_training.checkpointing import save_state

    p = torch.nn.Parameter(torch.zeros(2))
    return save_state(run_dir, step, {"p": p}, None, torch.optim.AdamW([p]), {})


def test_a_fresh_run_in_an_older_runs_folder_keeps_its_state(tmp_path: Path) -> None:
    """--no-resume in a folder whose old run reached higher steps: its first save must survive the pruning of
    old states (it was deleted at once, and the next resume silently started from scratch)."""
    for step in (4, 6):
        _save_tiny_state(tmp_path, step)
    _save_tiny_state(tmp_path, 2)  # the fresh run
    assert latest_state(tmp_path) == tmp_path / "state" / "step-00000002"
    for step in (8, 10):  # it goes on: the newest two up to its step stay
        _save_tiny_state(tmp_path, step)
    assert sorted(p.name for p in (tmp_path / "state").glob("step-*")) == ["step-00000008", "step-00000010"]


def test_a_latest_pointer_to_a_missing_state_is_an_error_not_a_fresh_start(tmp_path: Path) -> None:
    import shutil

    shutil.rmtree(_save_tiny_state(tmp_path, 2))
    with pytest.raises(FileNotFoundError, match="step-00000002.*--no-resume"):
        latest_state(tmp_path)


@pytest.mark.parametrize("pointer", ["../../elsewhere", "/tmp", "..", "", "a/b"])
def test_a_latest_pointer_outside_the_state_folder_is_refused(tmp_path: Path, pointer: str) -> None:
    """``state/latest`` is read from a run folder that may have travelled (pack / unpack): it names one folder
    beside it, never a path that leads elsewhere."""
    _save_tiny_state(tmp_path, 2)
    (tmp_path / "state" / "latest").write_text(pointer, encoding="utf-8")
    with pytest.raises(ValueError, match="must name a state folder beside it"):
        latest_state(tmp_path)


def test_a_resume_with_another_learning_rate_trains_with_it(audio_dir: Path, tmp_path: Path) -> None:
    """The optimizer and scheduler states carry the lr they were made with; a resume with --lr (or
    --weight-decay) changed kept the old values without a word."""
    run_dir = tmp_path / "run"
    run("diffusion", _cfg(audio_dir, run_dir, max_steps=2))
    run("diffusion", _cfg(audio_dir, run_dir, max_steps=3, lr=1e-3, weight_decay=0.5))
    rows = [row for f in sorted((run_dir / "logs").glob("*/metrics.csv")) for row in csv.DictReader(f.open())]
    lrs = {int(float(r["train/step"])): float(r["train/lr"]) for r in rows if r.get("train/lr")}
    assert lrs[1] == pytest.approx(1e-4 * (1 - 0.99 ** 2) * (1 + 1 / 1e6) ** -0.5, rel=1e-6)
    assert lrs[2] == pytest.approx(1e-3 * (1 - 0.99 ** 3) * (1 + 2 / 1e6) ** -0.5, rel=1e-6)
    groups = load_state(latest_state(run_dir))["info"]["optimizer"]["param_groups"]
    assert [(g["lr"] > 1e-5, g["weight_decay"]) for g in groups] == [(True, 0.5)] * len(groups)


def test_the_other_kind_of_run_in_a_run_folder_is_refused_before_it_touches_it(audio_dir: Path, tmp_path: Path) -> None:
    """`sagasr-train vae` resumed into a diffusion run's folder replaced its base/ (the frozen VAE and text
    encoder that resume rebuilds the model from) with a VAE, then failed."""
    run_dir = tmp_path / "run"
    run("diffusion", _cfg(audio_dir, run_dir, max_steps=1, save_every=0))
    before = sorted(p.name for p in (run_dir / "base").iterdir())
    with pytest.raises(ValueError, match="holds a diffusion run"):
        run("vae", _cfg(audio_dir, run_dir, max_steps=2))
    assert sorted(p.name for p in (run_dir / "base").iterdir()) == before
    assert json.loads((run_dir / "run.json").read_text())["kind"] == "diffusion"


def test_val_every_0_never_validates(audio_dir: Path, tmp_path: Path) -> None:
    """0 means never, as for save_every (it used to validate after every step)."""
    run("diffusion", _cfg(audio_dir, tmp_path / "noval", max_steps=2, val_batches=1, val_every=0))
    rows = [r for f in (tmp_path / "noval" / "logs").glob("*/metrics.csv") for r in csv.DictReader(f.open())]
    assert sorted(_losses(tmp_path / "noval")) == [0, 1] and not any(r.get("val/loss") for r in rows)


def _val_steps(run_dir: Path) -> list[int]:
    """The global steps after which a run validated, from its CSV logs (one folder per start, ``from-<step>``; a
    row's ``step`` counts that start's optimizer steps before the one it follows)."""
    steps = []
    for f in sorted((run_dir / "logs").glob("from-*/metrics.csv")):
        start = int(f.parent.name.split("-")[1])
        steps += [start + int(r["step"]) + 1 for r in csv.DictReader(f.open()) if r.get("val/loss")]
    return steps


@pytest.mark.parametrize("accumulate", [1, 2])
def test_a_resumed_run_validates_at_the_global_multiples_of_val_every(audio_dir: Path, tmp_path: Path,
                                                                      accumulate: int) -> None:
    """Lightning counted val_every from the resumed step: a run resumed at step 3 with val_every 2 validated after
    step 5, not 4."""
    straight, split = tmp_path / "straight", tmp_path / "split"
    kw = dict(val_every=2, val_batches=1, save_every=0, accumulate=accumulate, batch_size=2 // accumulate)
    run("diffusion", _cfg(audio_dir, straight, max_steps=5, **kw))
    run("diffusion", _cfg(audio_dir, split, max_steps=3, **kw))
    run("diffusion", _cfg(audio_dir, split, max_steps=5, **kw))
    assert _val_steps(straight) == _val_steps(split) == [2, 4]


@pytest.mark.parametrize("key, value", [("lr", float("inf")), ("grad_clip", float("nan")),
                                        ("logit_mean", float("nan"))])
def test_a_non_finite_number_in_the_config_is_refused_by_name(audio_dir: Path, tmp_path: Path, key: str,
                                                              value: float) -> None:
    with pytest.raises(ValueError, match=rf"{key.split('.')[-1]} must be a finite number"):
        _cfg(audio_dir, tmp_path / "run", **{key: value}).validate()


def test_betas_outside_0_1_are_refused_before_anything_is_built(audio_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"betas must be two numbers in \[0, 1\), got \[1.5, 0.999\]"):
        run("diffusion", _cfg(audio_dir, tmp_path / "run", betas=(1.5, 0.999)))
    assert not (tmp_path / "run").exists()


def test_a_diverging_run_stops_with_an_error_and_keeps_its_last_finite_state(audio_dir: Path, tmp_path: Path) -> None:
    """lr 1e30 turned every weight to inf/NaN; the run ended with exit 0 and its checkpoint exported NaN weights."""
    run_dir = tmp_path / "run"
    run("diffusion", _cfg(audio_dir, run_dir, max_steps=2))
    before = (run_dir / "checkpoint" / "model.safetensors").read_bytes()
    with pytest.raises(FloatingPointError, match="diverged"):
        run("diffusion", _cfg(audio_dir, run_dir, max_steps=6, lr=1e30))
    assert (run_dir / "checkpoint" / "model.safetensors").read_bytes() == before
    assert latest_state(run_dir).name == "step-00000002"


def test_a_resume_with_another_network_is_refused_not_recorded(audio_dir: Path, tmp_path: Path) -> None:
    """A resume keeps the network of base/ and the state: --model another.json was recorded in run.json but not
    used. Asking for another one is now an error naming it; the run's files stay as they were."""
    from sagasr_export.model import named_config

    run_dir = tmp_path / "run"
    run("diffusion", _cfg(audio_dir, run_dir, max_steps=2))
    other = tmp_path / "tiny_copy.json"
    other.write_text(json.dumps(named_config("tiny").to_dict()))
    recorded = (run_dir / "run.json").read_text()
    with pytest.raises(ValueError, match="resumes a run whose model was 'tiny'.*tiny_copy.json"):
        run("diffusion", _cfg(audio_dir, run_dir, max_steps=4, model=str(other)))
    assert (run_dir / "run.json").read_text() == recorded
    (run_dir / "run.json").write_text('{"kind": "diffusion", "model": ')  # torn by a crash of an older version
    with pytest.raises(ValueError, match=r"run.json is damaged"):
        run("diffusion", _cfg(audio_dir, run_dir, max_steps=4))


def test_a_truncated_state_file_is_named_with_the_older_states(audio_dir: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run("diffusion", _cfg(audio_dir, run_dir, max_steps=4, save_every=2))
    trainable = run_dir / "state" / "step-00000004" / "trainable.safetensors"
    trainable.write_bytes(trainable.read_bytes()[:1000])  # was SafetensorError: invalid header length
    with pytest.raises(ValueError, match=r"trainable.safetensors is damaged .*older states: step-00000002"):
        run("diffusion", _cfg(audio_dir, run_dir, max_steps=6, save_every=2))


def test_zero_devices_are_refused_by_name_not_by_lightning(audio_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="devices must be a count >= 1, -1 \\(all\\) or 'auto', got 0"):
        run("diffusion", _cfg(audio_dir, tmp_path / "run", devices=0))  # was Lightning's MisconfigurationException
    assert not (tmp_path / "run").exists()


def test_a_resume_without_the_network_flags_keeps_them_recorded(audio_dir: Path, tmp_path: Path) -> None:
    """Re-running without --model/--init-checkpoint (left at their defaults) resumed the network of base/ but
    rewrote run.json with "small" and no init_checkpoint: `slim` then dropped the run's own VAE, and an export
    from the slim file built another one in its place, without a word."""
    from safetensors.torch import load_file

    from sagasr_training.transfer import slim_run

    start = tmp_path / "start"
    run("diffusion", _cfg(audio_dir, start, max_steps=1, save_every=0))
    run_dir = tmp_path / "run"
    run("diffusion", _cfg(audio_dir, run_dir, max_steps=1, init_checkpoint=str(start / "checkpoint")))
    resumed = _cfg(audio_dir, run_dir, max_steps=2)
    resumed.model = "small"  # the default: the flag was not given
    run("diffusion", resumed)
    recorded = json.loads((run_dir / "run.json").read_text())
    assert (recorded["model"], recorded["init_checkpoint"]) == ("tiny", str(start / "checkpoint"))
    slim = load_file(str(slim_run(run_dir, tmp_path / "slim")))
    assert any(k.startswith("autoencoder.") for k in slim)


def test_a_checkpoint_without_its_state_is_not_replaced_by_a_fresh_run(audio_dir: Path, tmp_path: Path) -> None:
    """A run brought back with `pack --checkpoint-only` (or whose state/ was cleared) has no state to resume:
    re-running its training command started from scratch and replaced the trained checkpoint at the first save."""
    import shutil

    run_dir = tmp_path / "run"
    run("diffusion", _cfg(audio_dir, run_dir, max_steps=2, save_every=0))
    shutil.rmtree(run_dir / "state")
    before = (run_dir / "checkpoint" / "model.safetensors").read_bytes()
    with pytest.raises(ValueError, match=r"checkpoint of step 2 but no training state.*--no-resume"):
        run("diffusion", _cfg(audio_dir, run_dir, max_steps=3, save_every=0))
    assert (run_dir / "checkpoint" / "model.safetensors").read_bytes() == before


def test_a_resume_elsewhere_takes_the_network_from_the_run_not_its_model_path(audio_dir: Path, tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A run on a model JSON given by a relative path, unpacked and resumed where that path does not exist: the
    resume takes its network (and window) from base/, as it always trained it, and run.json keeps the path."""
    from sagasr_export.model import named_config

    monkeypatch.chdir(tmp_path)
    Path("m.json").write_text(json.dumps(named_config("tiny").to_dict()))
    run_dir = tmp_path / "run"
    run("diffusion", _cfg(audio_dir, run_dir, max_steps=1, model="m.json"))
    Path("m.json").unlink()
    resumed = _cfg(audio_dir, run_dir, max_steps=2)
    resumed.model = "small"  # not given
    run("diffusion", resumed)
    assert latest_state(run_dir).name == "step-00000002"
    assert json.loads((run_dir / "run.json").read_text())["model"] == "m.json"


def test_a_resume_with_other_settings_says_which(audio_dir: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture) -> None:
    """A resume trains with the settings it is given: one without the first start's --lr and --batch-size
    trained on at the defaults without a word."""
    run_dir = tmp_path / "run"
    run("diffusion", _cfg(audio_dir, run_dir, max_steps=1))
    capsys.readouterr()
    run("diffusion", _cfg(audio_dir, run_dir, max_steps=2, lr=1e-3, batch_size=1))
    err = capsys.readouterr().err
    assert "resuming with settings other than its last start's" in err
    assert "lr 0.0001 -> 0.001" in err and "batch_size 2 -> 1" in err and "max_steps 1 -> 2" in err
    assert "run_dir" not in err and "data.sample_rate" not in err
