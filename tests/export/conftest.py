"""Shared fixtures: one tiny SAGA-SR (random, zero-initialised branches re-randomised so every path
matters) and its exported bundles, built once per session."""
from __future__ import annotations

import importlib.util
import warnings

import pytest

if importlib.util.find_spec("torch") is None or importlib.util.find_spec("stable_audio_tools") is None:
    # runtime-only environments (no torch): the exporter tests need export/install.sh
    collect_ignore_glob = ["test_*.py"]
    SagaSR = object  # annotations only
else:
    import torch

    from sagasr_export.exporter import export_bundle
    from sagasr_export.model import SagaSR, build_model, named_config


def randomize(model: SagaSR, seed: int = 0) -> SagaSR:
    """Give SAT's zero-initialised weights (pre/post convs, branch outputs) random values."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            if p.is_floating_point() and not p.any():
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
    return model


@pytest.fixture(scope="session")
def tiny_model() -> SagaSR:
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return randomize(build_model(named_config("tiny"))).eval()


@pytest.fixture(scope="session")
def onnx_bundle(tiny_model, tmp_path_factory):
    out = tmp_path_factory.mktemp("bundles") / "tiny_onnx"
    export_bundle(tiny_model, out, backend="onnx", defaults={"steps": 3})
    return out


@pytest.fixture(scope="session")
def ts_bundle(tiny_model, tmp_path_factory):
    out = tmp_path_factory.mktemp("bundles") / "tiny_ts"
    export_bundle(tiny_model, out, backend="torchscript")
    return out
