"""Whole restoration: the runtime's sampler on the ONNX bundle equals the pure-torch reference sampler
(export/model/reference.py) on the same position-keyed noise, through encode, 3-pass CFG Euler steps and decode."""
from __future__ import annotations

import numpy as np
import torch

from sagasr_stream.backends.onnx import OnnxBackend
from sagasr_stream.bundle import load_bundle
from sagasr_stream.sampler import latent_noise, sample
from sagasr_export.model.reference import reference_restore, reference_sample


def test_runtime_sampler_matches_torch_reference(tiny_model, onnx_bundle):
    backend = OnnxBackend(load_bundle(onnx_bundle), provider="cpu")
    m, n, frames, channels = tiny_model, 2, 16, tiny_model.config.vae.latent_dim
    g = torch.Generator().manual_seed(5)
    lr_audio = torch.randn(n, 1, frames * 2048, generator=g) * 0.2
    noise = np.stack([latent_noise(seed=7, channel=i, start_frame=3, n_frames=frames, channels=channels) for i in range(n)])
    captions = ["bright piano", "warm bass with drums"]
    r_in, r_out = np.array([0.3, 0.5], np.float32), np.array([0.7, 0.9], np.float32)
    steps, s_a, s_t = 4, 1.4, 1.2

    # runtime: numpy + onnxruntime only
    lr = backend.encode(lr_audio.numpy())
    from sagasr_stream.text import WordPieceTokenizer
    ids, mask = WordPieceTokenizer(onnx_bundle / "vocab.txt", m.config.text.max_tokens)(captions)
    tokens = backend.encode_text(ids, mask)
    x0 = sample(backend, noise, lr, tokens, r_in, r_out, steps, s_a, s_t)
    audio = backend.decode(x0)

    # reference: torch, one DiT call per pass
    ref_x0 = reference_sample(m, torch.from_numpy(noise), torch.from_numpy(lr), torch.from_numpy(tokens),
                              torch.from_numpy(r_in), torch.from_numpy(r_out), steps, s_a, s_t).numpy()
    ref_audio = reference_restore(m, lr_audio, torch.from_numpy(noise), captions, torch.from_numpy(r_in),
                                  torch.from_numpy(r_out), steps, s_a, s_t).numpy()
    scale = np.abs(ref_x0).max()
    assert np.abs(x0 - ref_x0).max() < 1e-4 * max(1.0, scale)
    assert np.abs(audio - ref_audio).max() < 1e-3 * max(1.0, np.abs(ref_audio).max())
    # and the guidance matters: a different CFG gives a different result
    other = sample(backend, noise, lr, tokens, r_in, r_out, steps, 1.0, 1.0)
    assert np.abs(other - x0).max() > 1e-3


def test_public_restore_matches_torch_reference(tiny_model, onnx_bundle):
    """``sagasr_stream.restore`` (validation, chunking, batching, the window's mean taken out and put back, peak
    levelling, roll-off, caption tokens, noise keyed by channel and window position, decode, overlap-add) on a
    stereo two-window signal equals the torch reference run window by window. ``overlap=0`` and ``low_band="off"``
    make each output window the model's."""
    from sagasr_stream import degradation, dsp
    from sagasr_stream.api import restore
    from sagasr_stream.model import SagaSRModel
    from sagasr_stream.settings import RestoreSettings

    m, L, frames, channels = tiny_model, tiny_model.config.window_samples, tiny_model.config.latent_frames, 8
    rng = np.random.default_rng(3)
    white = rng.standard_normal((2, 2 * L))
    audio = np.stack([degradation.band_limit(white[0], 44100, degradation.LowPassSpec("butter", 6, 5000.0)) * 0.3,
                      degradation.band_limit(white[1], 44100, degradation.LowPassSpec("cheby1", 8, 9000.0)) * 0.05]).astype(np.float32)
    settings = RestoreSettings(steps=3, cfg_acoustic=1.4, cfg_text=1.2, target_rolloff_hz=15000.0,
                               caption="a bright piano with drums", overlap=0, batch_size=3, seed=11, low_band="off",
                               stereo="independent")  # each channel alone, as the reference runs it
    got = restore(audio, 44100, model=SagaSRModel.load(onnx_bundle, provider="cpu"), settings=settings)
    assert got.shape == audio.shape and got.dtype == np.float32

    # torch: the four windows (channel c, window k) in one batch
    windows = np.stack([audio[c, k * L:(k + 1) * L] for c in range(2) for k in range(2)])
    offsets = windows.mean(axis=1, keepdims=True, dtype=np.float64)  # each window restored without its mean
    gain = dsp.peak_gain(windows - offsets, m.config.input_peak)
    scaled = ((windows - offsets) * gain[:, None]).astype(np.float32)
    noise = np.stack([latent_noise(seed=11, channel=c, start_frame=k * frames, n_frames=frames, channels=channels)
                      for c in range(2) for k in range(2)])
    r_out = torch.full((4,), dsp.hz_to_ratio(15000.0))
    ref = reference_restore(m, torch.from_numpy(scaled)[:, None], torch.from_numpy(noise), [settings.caption] * 4,
                            torch.from_numpy(dsp.rolloff_ratio(scaled)), r_out, 3, 1.4, 1.2).numpy()[:, 0]
    ref = ref / gain[:, None] + offsets
    want = np.stack([np.concatenate([ref[2 * c], ref[2 * c + 1]]) for c in range(2)])
    scale = np.abs(want).max(axis=1, keepdims=True)
    assert np.all(np.abs(got - want).max(axis=1, keepdims=True) < 1e-3 * np.maximum(scale, 1e-2)), \
        (np.abs(got - want).max(axis=1), scale)
