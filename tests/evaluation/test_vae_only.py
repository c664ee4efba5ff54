"""VAE-only: the bundle with its DiT bypassed lands on the band-limited window's own latent."""
from __future__ import annotations

import numpy as np
import pytest

from sagasr_stream import restore
from sagasr_stream.dsp import merge_low_band, peak_gain
from sagasr_stream.engine import WindowJob, WindowRestorer
from sagasr_stream.evaluation.vae_only import BypassedDiT, vae_only_model
from sagasr_stream.sampler import sample
from sagasr_stream.settings import RestoreSettings, resolve
from tests.conftest import band_limited_noise


def test_bypassed_sampler_lands_exactly_on_the_lr_latent(tiny_model):
    rng = np.random.default_rng(0)
    lr = rng.standard_normal((2, 8, 16)).astype(np.float32)
    noise = rng.standard_normal((2, 8, 16)).astype(np.float32)
    backend = BypassedDiT(tiny_model.backend)
    for steps, s_a, s_t in ((1, 1.0, 0.0), (4, 1.4, 1.2), (9, 3.0, 7.0)):
        x0 = sample(backend, noise, lr, np.zeros((2, 1, 16), np.float32), np.full(2, 0.3, np.float32),
                    np.full(2, 0.7, np.float32), steps, s_a, s_t)
        np.testing.assert_allclose(x0, lr, atol=2e-5)


def test_vae_only_window_is_the_decoded_lr_latent_processed_like_the_runtime(tiny_model):
    model = vae_only_model(tiny_model)
    settings = resolve(RestoreSettings(), model.manifest)
    audio = band_limited_noise(model.manifest.window_samples, 5000.0, seed=2)
    (out,) = WindowRestorer(model, settings)([WindowJob(0, 0, audio)])
    offset = audio.mean(dtype=np.float64)  # the runtime restores each window without its mean and adds it back
    centred = (audio - offset)[None]
    gain = peak_gain(centred, model.manifest.input_peak)
    backend = tiny_model.backend
    scaled = (centred * gain[:, None]).astype(np.float32)
    decoded = backend.decode(backend.encode(scaled[:, None, :]))[:, 0, : audio.size] / gain[:, None]
    expected = merge_low_band(decoded, centred, settings.low_band)[0] + offset
    np.testing.assert_allclose(out, expected, atol=1e-4 * np.abs(expected).max())
    # and it is not what the full model gives
    (full,) = WindowRestorer(tiny_model, settings)([WindowJob(0, 0, audio)])
    assert np.abs(full - out).max() > 1e-2 * np.abs(expected).max()


def test_vae_only_output_ignores_steps_guidance_and_caption(tiny_model):
    model = vae_only_model(tiny_model)
    audio = band_limited_noise(3 * tiny_model.manifest.window_samples, 6000.0, seed=4)
    a = restore(audio, 44100, model, RestoreSettings(steps=1, overlap=2048))
    b = restore(audio, 44100, model, RestoreSettings(steps=8, cfg_acoustic=3.0, cfg_text=0.0, caption="drums",
                                                     target_rolloff_hz=10000.0, overlap=2048))
    np.testing.assert_allclose(a, b, atol=1e-4 * np.abs(a).max())
    assert "DiT bypassed" in model.device


def test_bypassed_dit_refuses_time_zero(tiny_model):
    x = np.zeros((1, 8, 4), np.float32)
    with pytest.raises(ValueError, match="flow time"):
        BypassedDiT(tiny_model.backend).velocity(x, np.zeros(1, np.float32), x, np.ones(1, np.float32),
                                                 np.zeros((1, 1, 16), np.float32), np.ones(1, np.float32),
                                                 np.ones(1, np.float32), np.ones(1, np.float32))
