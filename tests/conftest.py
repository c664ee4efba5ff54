"""Shared fixtures: tiny random ONNX bundles built in code (no downloads, no torch)."""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

# the tests never read or write the user's cache (verified hashes, optimised graphs); subprocesses inherit this
if "SAGASR_CACHE_DIR" not in os.environ:
    os.environ["SAGASR_CACHE_DIR"] = tempfile.mkdtemp(prefix="sagasr-test-cache-")
    atexit.register(shutil.rmtree, os.environ["SAGASR_CACHE_DIR"], True)

from sagasr_stream.model import SagaSRModel  # noqa: E402
from sagasr_stream.testing import build_tiny_bundle  # noqa: E402


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny bundle: 8192-sample windows, 256x downsampling, 8 latent channels, a text encoder."""
    return build_tiny_bundle(tmp_path_factory.mktemp("tiny") / "bundle")


@pytest.fixture(scope="session")
def tiny_model(tiny_bundle: Path) -> SagaSRModel:
    return SagaSRModel.load(tiny_bundle)


@pytest.fixture
def no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """The model loaders fail the test: a refusal must come before any model is loaded."""
    from sagasr_stream.restorer import Restorer

    def loaded(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(Restorer, "of", loaded)
    monkeypatch.setattr(Restorer, "load", loaded)


def band_limited_noise(n: int, cutoff_hz: float = 6000.0, seed: int = 0, channels: int | None = None) -> np.ndarray:
    """Deterministic white noise low-passed at ``cutoff_hz`` (44.1 kHz), float32, peak about 0.5."""
    from sagasr_stream.degradation import LowPassSpec, band_limit

    rng = np.random.default_rng(seed)
    shape = (n,) if channels is None else (channels, n)
    x = band_limit(0.2 * rng.standard_normal(shape), 44100, LowPassSpec("cheby1", 8, cutoff_hz), resample=False)
    return x.astype(np.float32)


def with_defaults(model: SagaSRModel, **changes: object) -> SagaSRModel:
    """``model`` (the same graphs) with some of its bundle's ``defaults`` changed."""
    import copy
    import dataclasses

    changed = copy.copy(model)
    defaults = dataclasses.replace(model.manifest.defaults, **changes)
    changed.manifest = dataclasses.replace(model.manifest, defaults=defaults)
    return changed
