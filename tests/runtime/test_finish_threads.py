"""The per-window stages after the model (engine.WindowRestorer._finish) run on the library's thread setting, with
the same floats on one thread as on several."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from sagasr_stream import RestoreSettings, restore
from sagasr_stream import engine
from sagasr_stream.backends.onnx import OnnxBackend
from sagasr_stream.bundle import load_bundle
from sagasr_stream.engine import WindowRestorer
from sagasr_stream.model import DEFAULT_BUNDLE_DIR, SagaSRModel
from sagasr_stream.settings import resolve

from ..conftest import band_limited_noise

#: every per-window stage on (the tiny bundle ships none of them as defaults)
ALL_STAGES = RestoreSettings(batch_size=4, band_ceiling=10.0, sbr_blend=0.25, band_smoothing=0.17,
                             band_transients=0.3, band_gain=-2.0)


@pytest.fixture
def pools(monkeypatch):
    """The worker counts of the thread pools the engine starts (none: every window on the calling thread)."""
    sizes: list[int] = []
    real = engine.ThreadPoolExecutor

    class Recording(real):  # type: ignore[misc, valid-type]
        def __init__(self, max_workers, *args, **kwargs):
            sizes.append(max_workers)
            super().__init__(max_workers, *args, **kwargs)

    monkeypatch.setattr(engine, "ThreadPoolExecutor", Recording)
    return sizes


def _models(bundle_dir, counts):
    bundle = load_bundle(bundle_dir)
    return [SagaSRModel(bundle, OnnxBackend(bundle, provider="cpu", threads=n)) for n in counts]


def test_windows_are_finished_on_as_many_threads_as_the_backend_has(tiny_bundle, monkeypatch, pools):
    monkeypatch.delenv("SAGASR_THREADS", raising=False)
    one, three = _models(tiny_bundle, (1, 3))
    assert WindowRestorer(one, resolve(ALL_STAGES, one.manifest)).workers == 1
    assert WindowRestorer(three, resolve(ALL_STAGES, three.manifest)).workers == 3
    audio = band_limited_noise(6 * 8192, seed=1)
    restore(audio, 44100, one, ALL_STAGES)
    assert pools == []  # one thread asked for: no pool
    restore(audio, 44100, three, ALL_STAGES)
    assert pools and set(pools) == {3}  # batches of 4 windows on 3 threads
    assert not [t for t in threading.enumerate() if t.name.startswith("sagasr-finish")]  # every pool shut down


def test_the_thread_environment_setting_reaches_the_finishing_pool(tiny_bundle, monkeypatch):
    monkeypatch.setenv("SAGASR_THREADS", "2")
    (model,) = _models(tiny_bundle, (None,))
    assert WindowRestorer(model, resolve(ALL_STAGES, model.manifest)).workers == 2


@pytest.mark.parametrize("settings", [ALL_STAGES, RestoreSettings(batch_size=4)], ids=["all-stages", "merge-only"])
def test_tiny_model_windows_finish_the_same_on_one_and_three_threads(tiny_bundle, settings, pools):
    one, three = _models(tiny_bundle, (1, 3))
    audio = band_limited_noise(6 * 8192, seed=2, channels=2)
    assert np.array_equal(restore(audio, 44100, one, settings), restore(audio, 44100, three, settings))
    assert pools  # the three-thread run used a pool


@pytest.mark.skipif(not (DEFAULT_BUNDLE_DIR / "manifest.json").is_file(), reason="no embedded default model")
def test_default_model_windows_finish_the_same_on_one_and_two_threads(monkeypatch, pools):
    """The default model's stages (band level, ceiling, SBR blend, smoothing with Griffin-Lim, merge, transients)
    on a few mono windows and a stereo pair: the same floats whichever thread finishes which window."""
    monkeypatch.delenv("SAGASR_ROW_SPLIT", raising=False)
    one, two = _models(DEFAULT_BUNDLE_DIR, (1, 2))
    mono = band_limited_noise(int(2.5 * 44100), seed=3)
    stereo = band_limited_noise(int(1.6 * 44100), seed=4, channels=2)
    for audio in (mono, stereo):
        assert np.array_equal(restore(audio, 44100, one), restore(audio, 44100, two))
    assert pools and set(pools) == {2}
