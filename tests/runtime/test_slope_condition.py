"""The DiT's optional ``slope_in`` condition: how dark each input window is (its slope below its band edge, dB per
octave), measured as training measures it, fed to a bundle whose manifest says ``slope_condition`` and to no other."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import butter, sosfilt

import sagasr_stream as ss
from sagasr_stream.backends.onnx import OnnxBackend
from sagasr_stream.bandlimit import window_limits
from sagasr_stream.bundle import load_bundle
from sagasr_stream.chunking import WindowPlan
from sagasr_stream.degradation import resample_through
from sagasr_stream.errors import BundleError
from sagasr_stream.replication import window_slope
from sagasr_stream.settings import RestoreSettings
from sagasr_stream.stream import StreamingRestorer
from sagasr_stream.testing import build_tiny_bundle

from .test_graphs import check_graph_file
from .test_stream import stream_in_blocks

SR = 44100


def cut_noise(seconds: float, cutoff_hz: float, dark_corner_hz: float | None = None, seed: int = 0) -> np.ndarray:
    """White noise resampled through ``2 * cutoff_hz`` (cut at ``cutoff_hz``), and, given ``dark_corner_hz``, through
    a 4th-order Butterworth low-pass there first (a dark recording), peak 0.4: (samples,) float32."""
    x = np.random.default_rng(seed).standard_normal(int(seconds * SR))
    if dark_corner_hz is not None:
        x = sosfilt(butter(4, dark_corner_hz, fs=SR, output="sos"), x)
    x = resample_through(x, SR, 2 * cutoff_hz)
    return (0.4 * x / np.abs(x).max()).astype(np.float32)


@pytest.fixture(scope="module")
def slope_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_bundle(tmp_path_factory.mktemp("slope") / "bundle", slope_condition=True)


@pytest.fixture(scope="module")
def slope_model(slope_bundle: Path) -> ss.SagaSRModel:
    return ss.SagaSRModel.load(slope_bundle)


def test_window_slope_reads_a_dark_recording_steeper_than_plain_music() -> None:
    plain, dark = cut_noise(1.5, 8000.0), cut_noise(1.5, 8000.0, dark_corner_hz=2000.0)
    assert -10.0 < window_slope(plain, SR) < 0.0
    assert window_slope(dark, SR) < -20.0
    assert window_slope(np.zeros(SR, np.float32), SR) == 0.0  # no edge: nothing to measure
    assert window_slope(np.random.default_rng(1).standard_normal(SR), SR) == 0.0  # full band


def test_a_slope_bundle_takes_slope_in_after_the_table_inputs(slope_bundle: Path) -> None:
    pytest.importorskip("onnx")
    bundle = load_bundle(slope_bundle)
    assert bundle.manifest.slope_condition
    sizes = {"channels": bundle.manifest.latent_channels, "text_dim": bundle.manifest.text.dim}
    check_graph_file(bundle.path("dit"), "dit", sizes, optional=("slope_in",))


def dit_call_args(backend: OnnxBackend) -> tuple[np.ndarray, ...]:
    c, d = backend.manifest.latent_channels, backend.manifest.text.dim
    ones = np.ones(2, np.float32)
    return np.zeros((2, c, 4)), ones, np.zeros((2, c, 4)), ones, np.zeros((2, 3, d)), ones, ones / 4, ones / 2


def test_the_backend_feeds_slope_in_only_to_a_dit_that_takes_it(slope_bundle: Path, tiny_bundle: Path) -> None:
    with_slope = OnnxBackend(load_bundle(slope_bundle), provider="cpu")
    without = OnnxBackend(load_bundle(tiny_bundle), provider="cpu")
    args = dit_call_args(with_slope)
    dark, plain = with_slope.velocity(*args, np.full(2, -30.0)), with_slope.velocity(*args, np.full(2, -3.0))
    assert dark.shape == plain.shape and not np.allclose(dark, plain)
    with pytest.raises(ValueError, match="slope_in must be given exactly when the DiT takes it"):
        with_slope.velocity(*args)
    with pytest.raises(ValueError, match="slope_condition False"):
        without.velocity(*args, np.full(2, -30.0))


@pytest.mark.parametrize("says, graph_from", [(False, "slope"), (True, "plain")])
def test_a_manifest_that_disagrees_with_its_dit_is_refused(tmp_path: Path, slope_bundle: Path, tiny_bundle: Path,
                                                           says: bool, graph_from: str) -> None:
    import shutil

    folder = tmp_path / "bundle"
    shutil.copytree(slope_bundle if graph_from == "slope" else tiny_bundle, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["slope_condition"] = says
    (folder / "manifest.json").write_text(json.dumps(manifest))
    hint = "takes" if graph_from == "slope" else "lacks"
    with pytest.raises(BundleError, match=f"slope_condition is {str(says).lower()}, but the graph {hint} 'slope_in'"):
        OnnxBackend(load_bundle(folder), provider="cpu")


def test_each_window_gets_the_mean_slope_so_far_and_it_changes_the_result(
        slope_model: ss.SagaSRModel, monkeypatch: pytest.MonkeyPatch) -> None:
    fed: list[np.ndarray] = []
    real = slope_model.backend.velocity

    def spy(*args: np.ndarray) -> np.ndarray:
        fed.append(np.asarray(args[8]))
        return real(*args)

    monkeypatch.setattr(slope_model.backend, "velocity", spy)
    settings = RestoreSettings(steps=1, overlap=0, target_rolloff_hz=16000.0, cfg_acoustic=1.0, cfg_text=1.0)
    window = slope_model.manifest.window_samples
    dark = cut_noise(2 * window / SR, 8000.0, dark_corner_hz=2000.0, seed=2)
    plain = cut_noise(2 * window / SR, 8000.0, seed=2)
    restored = {}
    for name, x in (("dark", dark), ("plain", plain)):
        fed.clear()
        restored[name] = ss.restore(x, SR, slope_model, settings)
        slopes = np.concatenate(fed)
        assert slopes.shape == (2,) and slopes.dtype == np.float32  # one per window, s_a = s_t = 1: one pass
        own = [window_slope(x[k * window:(k + 1) * window] - x[k * window:(k + 1) * window].mean(), SR)
               for k in range(2)]
        so_far = window_limits(x[None], WindowPlan(window, 0), slopes=True)[1][0].slope_db_per_octave
        # the first window its own slope (at the runtime's edge, which the own search nears), the second the mean
        # of the windows so far, from the band limit's meter (its own frames: near the mean of the own slopes)
        np.testing.assert_allclose(slopes, [own[0], so_far], atol=0.5)
        assert abs(so_far - np.mean(own)) < 1.5
        assert np.all(slopes < -20.0) if name == "dark" else np.all(slopes > -8.0)
    monkeypatch.undo()
    flat = slope_model.backend.velocity
    monkeypatch.setattr(slope_model.backend, "velocity", lambda *a: flat(*a[:8], np.zeros_like(a[8])))
    assert not np.allclose(ss.restore(dark, SR, slope_model, settings), restored["dark"], atol=1e-6)


def test_a_slope_model_streams_as_it_restores_offline(slope_model: ss.SagaSRModel) -> None:
    x = cut_noise(0.7, 6000.0, dark_corner_hz=1500.0, seed=4)
    settings = RestoreSettings(overlap=2048)
    offline = ss.restore(x, SR, slope_model, settings)
    for block in (1, 333, 8192):
        streamed = stream_in_blocks(StreamingRestorer(slope_model, settings), x, iter(lambda: block, None))
        np.testing.assert_allclose(streamed, offline, atol=1e-5)


def test_info_says_the_dit_takes_the_slope(slope_bundle: Path, tiny_bundle: Path,
                                           capsys: pytest.CaptureFixture) -> None:
    from sagasr_stream.cli import main

    assert main(["info", "--model", str(slope_bundle)]) == 0
    assert "conditions:      the DiT also takes each window's slope below its band edge" in capsys.readouterr().out
    assert main(["info", "--model", str(tiny_bundle)]) == 0
    assert "conditions:" not in capsys.readouterr().out
