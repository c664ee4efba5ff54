"""VAE and DiT calls split into concurrent row groups (backends/row_split.py) give the same values as one call."""
from __future__ import annotations

import numpy as np
import pytest

from sagasr_stream import RestoreSettings, StreamingRestorer, restore
from sagasr_stream.backends.onnx import OnnxBackend
from sagasr_stream.backends.row_split import RowSplitter, row_groups
from sagasr_stream.bundle import load_bundle
from sagasr_stream.errors import BundleError
from sagasr_stream.model import DEFAULT_BUNDLE_DIR, SagaSRModel

from ..conftest import band_limited_noise


@pytest.mark.parametrize("rows, workers", [(1, 2), (2, 2), (3, 2), (4, 2), (7, 3), (5, 8), (6, 1)])
def test_row_groups_cover_every_row_once_in_balanced_groups(rows, workers):
    groups = row_groups(rows, workers)
    assert groups[0][0] == 0 and groups[-1][1] == rows
    assert all(a[1] == b[0] for a, b in zip(groups, groups[1:]))
    sizes = [b - a for a, b in groups]
    assert len(groups) == min(rows, workers) and min(sizes) >= 1 and max(sizes) - min(sizes) <= 1


def test_a_bad_row_split_setting_is_named(tiny_bundle, monkeypatch):
    from sagasr_stream.errors import ParameterError

    monkeypatch.setenv("SAGASR_ROW_SPLIT", "two")
    with pytest.raises(ParameterError, match="SAGASR_ROW_SPLIT"):
        OnnxBackend(load_bundle(tiny_bundle), provider="cpu")


def _backends(bundle, monkeypatch):
    monkeypatch.setenv("SAGASR_ROW_SPLIT", "1")
    plain = OnnxBackend(bundle, provider="cpu")
    monkeypatch.setenv("SAGASR_ROW_SPLIT", "2")
    split = OnnxBackend(bundle, provider="cpu")
    return plain, split


def test_split_vae_calls_are_bit_identical_and_use_the_split_path(tiny_bundle, monkeypatch):
    plain, split = _backends(load_bundle(tiny_bundle), monkeypatch)
    assert not plain._splitters["vae_decoder"].applies(4) and split._splitters["vae_encoder"].applies(3)
    assert plain._splitters["vae_encoder"].applies(1)  # the encoder always runs on its one-thread session
    assert not split._splitters["vae_decoder"].applies(1)  # one window: the multi-threaded session
    m = split.manifest
    rng = np.random.default_rng(3)
    audio = (0.3 * rng.standard_normal((3, 1, m.window_samples))).astype(np.float32)
    latent = rng.standard_normal((3, m.latent_channels, m.window_samples // m.downsampling)).astype(np.float32)
    calls = []
    real = RowSplitter.run
    monkeypatch.setattr(RowSplitter, "run", lambda self, feeds: calls.append(1) or real(self, feeds))
    assert np.array_equal(split.encode(audio), plain.encode(audio))
    assert np.array_equal(split.decode(latent), plain.decode(latent))
    assert len(calls) == 3  # the plain backend split only its encoder call (one group, one thread)
    c, d = m.latent_channels, m.text.dim
    for windows, splits in ((1, False), (2, True), (3, True)):  # DiT rows: 3 per window; split from 4 rows
        rows = 3 * windows
        args = (rng.standard_normal((rows, c, 4)).astype(np.float32), rng.random(rows, dtype=np.float32),
                rng.standard_normal((rows, c, 4)).astype(np.float32), np.ones(rows, np.float32),
                rng.standard_normal((rows, 5, d)).astype(np.float32), np.ones(rows, np.float32),
                np.full(rows, 0.3, np.float32), np.full(rows, 0.6, np.float32))
        calls.clear()
        assert np.array_equal(split.velocity(*args), plain.velocity(*args))
        assert len(calls) == int(splits)


def test_split_path_still_refuses_non_finite_outputs(tiny_bundle, monkeypatch):
    _, split = _backends(load_bundle(tiny_bundle), monkeypatch)
    m = split.manifest
    latent = np.full((2, m.latent_channels, 4), np.nan, np.float32)
    with pytest.raises(BundleError, match="vae_decoder"):
        split.decode(latent)


@pytest.mark.skipif(not (DEFAULT_BUNDLE_DIR / "manifest.json").is_file(), reason="no embedded default model")
def test_default_model_restore_is_identical_with_and_without_row_split(monkeypatch):
    """The default model (snake activations in the VAE, the DiT's MatMuls) on two windows, whole restore."""
    bundle = load_bundle(DEFAULT_BUNDLE_DIR)
    plain, split = _backends(bundle, monkeypatch)
    audio = band_limited_noise(int(1.6 * 44100), seed=5)
    settings = RestoreSettings(steps=1, batch_size=2)
    a = restore(audio, 44100, SagaSRModel(bundle, plain), settings)
    b = restore(audio, 44100, SagaSRModel(bundle, split), settings)
    assert np.array_equal(a, b)


@pytest.mark.skipif(not (DEFAULT_BUNDLE_DIR / "manifest.json").is_file(), reason="no embedded default model")
def test_row_groups_off_give_the_same_values_whatever_the_batch(monkeypatch):
    """SAGASR_ROW_SPLIT=1 (row groups off) used to run the encoder on the multi-threaded session, whose sums for
    one window alone differ from the same window's in a batch (up to 5e-7): --batch-size then changed the file
    (and the result differed from the default's with row groups on)."""
    bundle = load_bundle(DEFAULT_BUNDLE_DIR)
    plain, split = _backends(bundle, monkeypatch)
    audio = band_limited_noise(5 * 65536, seed=7).reshape(5, 1, 65536)
    batch = plain.encode(audio)
    for i in range(len(audio)):
        assert np.array_equal(plain.encode(audio[i : i + 1]), batch[i : i + 1])
    assert np.array_equal(split.encode(audio), batch)
    settings = [RestoreSettings(steps=1, batch_size=b) for b in (1, 3)]
    x = band_limited_noise(4 * 32768, seed=8)
    a, b = (restore(x, 44100, SagaSRModel(bundle, plain), s) for s in settings)
    assert np.array_equal(a, b)


@pytest.mark.skipif(not (DEFAULT_BUNDLE_DIR / "manifest.json").is_file(), reason="no embedded default model")
def test_default_model_restore_does_not_depend_on_the_thread_count(monkeypatch):
    """README "Determinism": one and two intra-op threads per session (and as many row groups), a stream of one
    window per call and a whole restore in batches of two, the same floats (measured with 1-8 threads)."""
    bundle = load_bundle(DEFAULT_BUNDLE_DIR)
    monkeypatch.delenv("SAGASR_ROW_SPLIT", raising=False)
    one, two = (SagaSRModel(bundle, OnnxBackend(bundle, provider="cpu", threads=n)) for n in (1, 2))
    audio = band_limited_noise(int(1.6 * 44100), seed=6)
    settings = RestoreSettings(steps=1, batch_size=2)
    a = restore(audio, 44100, one, settings)
    assert np.array_equal(a, restore(audio, 44100, two, settings))
    stream = StreamingRestorer(two, settings)
    assert np.array_equal(a, np.concatenate([stream.process(audio[i : i + 8192]) for i in range(0, audio.size, 8192)]
                                            + [stream.flush()]))
