"""The committed weights of the default model are the shipped bundle's DiT: a run continued from them
(`--init-weights training/weights/v3-hits/model.safetensors`, training/recipes/default_model_v3.sh) starts from
the model that ships, text padding included."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import torch

from sagasr_stream.backends.base import DIT_INPUTS
from sagasr_stream.model import DEFAULT_BUNDLE_DIR

from sagasr_export.model import build_model, load_config
from sagasr_export.model.checkpoint import load_trained_weights

WEIGHTS = Path(__file__).resolve().parents[2] / "training" / "weights" / "v3-hits"


def test_committed_weights_give_the_shipped_dit() -> None:
    import onnxruntime as ort

    config = json.loads((WEIGHTS / "config.json").read_text())
    shipped = json.loads((DEFAULT_BUNDLE_DIR / "manifest.json").read_text())["provenance"]["config"]
    assert config["text"]["padding"] == shipped["text"]["padding"] == "repeat"
    # compared as validated configs: an export writes the options added since with their defaults
    assert load_config(config).dit == load_config(shipped).dit and config["latent_scale"] == shipped["latent_scale"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = build_model(load_config(config)).eval()  # its text encoder a placeholder: the DiT takes tokens
    load_trained_weights(model, WEIGHTS / "model.safetensors")
    g = torch.Generator().manual_seed(0)
    c, frames, d = model.config.vae.latent_dim, 8, model.text_encoder.dim
    tokens = torch.randn(2, 48, d, generator=g) * 0.1
    tokens[0, 5:] = 0  # a five-token caption, zero-padded as the runtime passes it
    tokens[1] = 0  # the default empty caption
    inputs = (torch.randn(2, c, frames, generator=g), torch.tensor([1.0, 0.6]), torch.randn(2, c, frames, generator=g),
              torch.ones(2), tokens, torch.ones(2), torch.tensor([0.3, 0.4]), torch.tensor([0.9, 0.8]))
    with torch.no_grad():
        want = model.velocity(*inputs).numpy()
    session = ort.InferenceSession(str(DEFAULT_BUNDLE_DIR / "dit.onnx"), providers=["CPUExecutionProvider"])
    got = session.run(None, {n: x.numpy() for n, x in zip(DIT_INPUTS, inputs)})[0]
    assert np.abs(got - want).max() < 1e-3 * max(1.0, np.abs(want).max())
