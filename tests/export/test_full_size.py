"""The full-size (Stable Audio Open) configuration on CPU without a GPU.

In CI: every shape of ``configs/full.json``'s DiT (1536 wide, 24 heads, 768-d conditioning tokens, 1536-d global
vector, 64 latent channels, no token projection) with one of its 24 identical blocks, exported to ONNX and run at
batch 3 (the three CFG passes of one window); the 24-block parameter count is checked on the meta device in
test_model.py. The whole 1.05 B model (random weights, ~4 GB bundle, minutes, ~15 GB RAM) is exported and run by
``benchmarks/export_full.py`` (results in ``benchmarks/export_results.md``), outside the test suite."""
from __future__ import annotations

import warnings

import numpy as np
import torch

from sagasr_export.exporter import export_bundle
from sagasr_export.model import build_model, named_config
from sagasr_stream.backends.base import DIT_INPUTS
from sagasr_stream.bundle import load_bundle

from .conftest import randomize


def _full_config(depth: int | None = None, vae_channels: int | None = None) -> dict:
    """configs/full.json with the tiny random text encoder (T5-base is not available offline) at 128 tokens."""
    cfg = named_config("full").to_dict()
    text = named_config("tiny").to_dict()["text"]
    text["max_tokens"] = cfg["text"]["max_tokens"]
    text["hf_config"]["max_position_embeddings"] = cfg["text"]["max_tokens"]
    cfg["text"] = text
    if depth is not None:
        cfg["dit"]["depth"] = depth
    if vae_channels is not None:
        cfg["vae"]["channels"] = vae_channels  # the VAE's width is not what these tests are about
    return cfg


def _dit_case(model, batch: int = 3, frames: int = 32, seed: int = 0) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    c, s, d = model.config.vae.latent_dim, model.config.text.max_tokens, model.text_encoder.dim
    return (torch.randn(batch, c, frames, generator=g), torch.full((batch,), 0.7), torch.randn(batch, c, frames, generator=g),
            torch.tensor([0.0, 1.0, 1.0])[:batch], torch.randn(batch, s, d, generator=g),
            torch.tensor([0.0, 0.0, 1.0])[:batch], torch.full((batch,), 0.3), torch.full((batch,), 0.9))


def _run_dit(bundle_dir, inputs) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(str(load_bundle(bundle_dir).path("dit")), providers=["CPUExecutionProvider"])
    return session.run(None, {n: x.numpy() for n, x in zip(DIT_INPUTS, inputs)})[0]


def test_full_size_dit_block_exports_and_runs(tmp_path):
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = randomize(build_model(_full_config(depth=1, vae_channels=4))).eval()
    d = model.dit
    assert (d.input_concat_dim, d.to_global_embed[0].in_features, d.transformer.dim) == (64, 1536, 1536)
    export_bundle(model, tmp_path / "full1", backend="onnx", text_encoder=False)
    inputs = _dit_case(model)
    got = _run_dit(tmp_path / "full1", inputs)
    with torch.no_grad():
        want = model.velocity(*inputs).numpy()
    assert got.shape == (3, 64, 32) and np.isfinite(got).all()
    assert np.abs(got - want).max() < 1e-4 * max(1.0, np.abs(want).max())
