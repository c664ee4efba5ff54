"""The DiT's slope condition (``dit.slope_condition``) in the model and the bundle: zero-initialised, so a model
trained without it starts as before; exported as the ``dit`` graph's last input ``slope_in``; the runtime's sampler
with it equals the torch reference."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from sagasr_stream.backends.onnx import OnnxBackend
from sagasr_stream.backends.torchscript import TorchScriptBackend
from sagasr_stream.bundle import load_bundle
from sagasr_stream.sampler import latent_noise, sample
from sagasr_export.exporter import export_bundle
from sagasr_export.model import build_model, named_config
from sagasr_export.model.checkpoint import TRAINED_PREFIXES, load_trained_weights
from sagasr_export.model.reference import reference_sample

from .conftest import randomize


def tiny(slope_condition: bool, gate: list[float] | None = None) -> torch.nn.Module:
    config = named_config("tiny")
    config.dit.slope_condition = slope_condition
    config.dit.slope_gate = gate
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build_model(config).eval()


def velocity_inputs(model: torch.nn.Module, n: int = 2) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(1)
    c, d = model.config.vae.latent_dim, model.text_encoder.dim
    return (torch.randn(n, c, 8, generator=g), torch.rand(n, generator=g), torch.randn(n, c, 8, generator=g),
            torch.ones(n), torch.randn(n, 5, d, generator=g), torch.ones(n), torch.rand(n, generator=g),
            torch.rand(n, generator=g))


def trained_file(model: torch.nn.Module, path: Path, leave_out: str | None = None) -> Path:
    weights = {k: v for k, v in model.state_dict().items() if k.startswith(TRAINED_PREFIXES)
               and not (leave_out and k.startswith(leave_out))}
    save_file(weights, str(path))
    return path


def test_weights_without_the_condition_load_and_give_the_same_velocity(tmp_path: Path) -> None:
    plain = randomize(tiny(False))
    grown = tiny(True)
    load_trained_weights(grown, trained_file(plain, tmp_path / "plain.safetensors"))
    args = velocity_inputs(plain)
    with torch.no_grad():
        want = plain.velocity(*args)
        for slope in (-40.0, -3.0):  # the zero-initialised embedding adds nothing, whatever the slope
            assert torch.equal(grown.velocity(*args, torch.full((2,), slope)), want)
    with pytest.raises(ValueError, match="slope_in must be given exactly"):
        grown.velocity(*args)
    with pytest.raises(ValueError, match="slope_in must be given exactly"):
        plain.velocity(*args, torch.full((2,), -3.0))


def test_a_file_with_part_of_the_condition_is_refused(tmp_path: Path) -> None:
    grown = randomize(tiny(True))
    part = trained_file(grown, tmp_path / "part.safetensors", leave_out="conditioner.slope_in.embedder.embedding.1.")
    with pytest.raises(ValueError, match="missing.*slope_in"):
        load_trained_weights(tiny(True), part)
    with pytest.raises(ValueError, match="unexpected.*slope_in"):
        load_trained_weights(tiny(False), trained_file(grown, tmp_path / "whole.safetensors"))


def test_a_gated_condition_leaves_inputs_above_its_onset_as_without_it(tmp_path: Path) -> None:
    plain = randomize(tiny(False))
    gated = tiny(True, gate=[-18.0, -24.0])
    load_trained_weights(gated, trained_file(plain, tmp_path / "plain.safetensors"))
    randomize(gated, seed=3)  # the slope's embedding is no longer zero
    args = velocity_inputs(plain)
    with torch.no_grad():
        want = plain.velocity(*args)
        for slope in (6.0, -3.0, -18.0):  # ordinary slopes, up to the onset: the gate is 0
            assert torch.equal(gated.velocity(*args, torch.full((2,), slope)), want)
        half = gated.velocity(*args, torch.full((2,), -21.0))
        full = gated.velocity(*args, torch.full((2,), -24.0))
        darker = gated.velocity(*args, torch.full((2,), -40.0))
    assert (half - want).abs().max() > 1e-4 and (full - half).abs().max() > 1e-4 and (darker - full).abs().max() > 1e-4


def test_the_gate_weighs_the_embedding_linearly_between_onset_and_full() -> None:
    from sagasr_export.model.conditioners import slope_gate

    got = slope_gate(torch.tensor([0.0, -18.0, -20.0, -24.0, -60.0]), -18.0, -26.0)
    assert torch.allclose(got, torch.tensor([0.0, 0.0, 0.25, 0.75, 1.0]))


@pytest.mark.parametrize("condition, gate, message", [
    (False, [-18.0, -24.0], "needs dit.slope_condition"),
    (True, [-24.0, -18.0], "onset must lie above"),
    (True, [-18.0, -18.0], "onset must lie above"),
    (True, [-18.0], "two finite slopes"),
    (True, [-18.0, float("nan")], "two finite slopes"),
    (True, "steep", "two finite slopes"),
])
def test_a_bad_gate_is_refused_by_name(condition: bool, gate: object, message: str) -> None:
    config = named_config("tiny")
    config.dit.slope_condition, config.dit.slope_gate = condition, gate
    with pytest.raises(ValueError, match=f"dit.slope_gate.*{message}|{message}.*"):
        config.validate()


@pytest.fixture(scope="module")
def slope_model() -> torch.nn.Module:
    return randomize(tiny(True), seed=2)


@pytest.fixture(scope="module")
def slope_bundles(slope_model: torch.nn.Module, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("slope_bundles")
    for backend in ("onnx", "torchscript"):
        export_bundle(slope_model, out / backend, backend=backend)
    return {backend: out / backend for backend in ("onnx", "torchscript")}


def test_the_exported_dit_takes_slope_in_last(slope_bundles: dict[str, Path], slope_model: torch.nn.Module) -> None:
    from tests.runtime.test_graphs import check_graph_file

    bundle = load_bundle(slope_bundles["onnx"])
    assert bundle.manifest.slope_condition
    sizes = {"channels": bundle.manifest.latent_channels, "text_dim": bundle.manifest.text.dim}
    check_graph_file(bundle.path("dit"), "dit", sizes, symbolic_outputs=True, optional=("slope_in",))


@pytest.mark.parametrize("backend", ["onnx", "torchscript"])
def test_the_runtime_sampler_with_slopes_matches_the_torch_reference(
        slope_bundles: dict[str, Path], slope_model: torch.nn.Module, backend: str) -> None:
    bundle = load_bundle(slope_bundles[backend])
    runtime = OnnxBackend(bundle, provider="cpu") if backend == "onnx" else TorchScriptBackend(bundle, provider="cpu")
    n, frames, channels = 2, 8, slope_model.config.vae.latent_dim
    g = torch.Generator().manual_seed(5)
    lr = runtime.encode((torch.randn(n, 1, frames * slope_model.config.downsampling, generator=g) * 0.2).numpy())
    noise = np.stack([latent_noise(7, i, 0, frames, channels) for i in range(n)])
    tokens = np.random.default_rng(0).standard_normal((n, 5, bundle.manifest.text.dim)).astype(np.float32)
    r_in, r_out, slopes = (np.array(v, np.float32) for v in ([0.3, 0.5], [0.7, 0.9], [-35.0, -4.0]))
    got = sample(runtime, noise, lr, tokens, r_in, r_out, 3, 1.4, 1.2, slope_in=slopes)
    want = reference_sample(slope_model, *(torch.from_numpy(a) for a in (noise, lr, tokens, r_in, r_out)), 3, 1.4,
                            1.2, torch.from_numpy(slopes)).numpy()
    assert np.abs(got - want).max() < 1e-4 * max(1.0, np.abs(want).max())
    other = sample(runtime, noise, lr, tokens, r_in, r_out, 3, 1.4, 1.2, slope_in=slopes[::-1].copy())
    assert np.abs(other - got).max() > 1e-3  # the slope acts


def test_the_exported_gate_leaves_ordinary_slopes_alone(tmp_path: Path) -> None:
    model = randomize(tiny(True, gate=[-18.0, -24.0]), seed=2)
    export_bundle(model, tmp_path / "gated", backend="onnx")
    bundle = load_bundle(tmp_path / "gated")
    runtime = OnnxBackend(bundle, provider="cpu")
    n, frames, channels = 2, 8, model.config.vae.latent_dim
    g = torch.Generator().manual_seed(5)
    lr = runtime.encode((torch.randn(n, 1, frames * model.config.downsampling, generator=g) * 0.2).numpy())
    noise = np.stack([latent_noise(7, i, 0, frames, channels) for i in range(n)])
    tokens = np.zeros((n, 5, bundle.manifest.text.dim), np.float32)
    r_in, r_out = np.array([0.3, 0.5], np.float32), np.array([0.7, 0.9], np.float32)

    def restored(slope: float) -> np.ndarray:
        return sample(runtime, noise, lr, tokens, r_in, r_out, 2, 1.0, 1.0, slope_in=np.full(n, slope, np.float32))

    assert np.array_equal(restored(-2.0), restored(-17.0))
    assert np.abs(restored(-30.0) - restored(-2.0)).max() > 1e-3


def test_the_gate_survives_the_model_json() -> None:
    from sagasr_export.model import load_config

    config = named_config("tiny")
    config.dit.slope_condition, config.dit.slope_gate = True, [-24.0, -30.0]
    again = load_config(json.loads(json.dumps(config.to_dict())))
    assert again.dit.slope_gate == [-24.0, -30.0]
    with pytest.raises(ValueError, match="dit.slope_gate needs dit.slope_condition"):
        load_config({**config.to_dict(), "dit": {**config.to_dict()["dit"], "slope_condition": False}})
