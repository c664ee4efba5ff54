"""The analytic VAEs (``vae.kind`` "mdct" and "mdct-env"): exact round trips, layouts, the DiT that generates
only the envelopes, export to a bundle that the runtime restores with, and config validation."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

from sagasr_export.model.mdct import EnvelopeAutoencoder, MDCTAutoencoder, band_edges, envelope_channels, mdct_basis
from sagasr_export.model import build_model, load_config, named_config


def mdct_config(kind: str = "mdct-env", hop: int = 64, stack: int = 2, window: int = 8192) -> dict:
    """A tiny model on an analytic VAE (the tiny config's DiT and text encoder)."""
    cfg = json.loads(json.dumps(named_config("tiny").to_dict()))
    channels = hop * stack if kind == "mdct" else envelope_channels(hop, stack) + hop * stack
    cfg.update(name=f"tiny-{kind}", window_samples=window, latent_shift=0.0, latent_scale=1.0,
               vae={"kind": kind, "hop": hop, "stack": stack, "latent_dim": channels})
    return cfg


@pytest.mark.parametrize("stack", [1, 2, 4])
@pytest.mark.parametrize("kind", ["mdct", "mdct-env"])
def test_round_trip_is_exact(kind: str, stack: int) -> None:
    ae = MDCTAutoencoder(64, 0.5, stack) if kind == "mdct" else EnvelopeAutoencoder(64, stack)
    x = torch.randn(3, 1, 64 * stack * 6, generator=torch.Generator().manual_seed(0)) * 0.3
    x[1] = 0.0  # silence survives the log floor
    latent = ae.encoder(x)
    half = latent.shape[1] // 2
    assert not latent[:, half:].any()  # the "scale" half of the VAE contract is zero
    assert torch.allclose(ae.decoder(latent[:, :half]), x, atol=2e-6)


def test_basis_is_orthonormal_across_hops() -> None:
    """Princen-Bradley: the lapped basis of three consecutive frames is orthonormal (exact TDAC)."""
    n = 16
    b = mdct_basis(n)[:, 0, :]  # (N, 2N)
    frames = torch.zeros(3 * n, 4 * n, dtype=torch.float64)
    for f in range(3):
        frames[f * n:(f + 1) * n, f * n:f * n + 2 * n] = b
    gram = frames @ frames.T
    assert torch.allclose(gram, torch.eye(3 * n, dtype=torch.float64), atol=1e-12)


def test_folded_transform_is_the_lapped_basis() -> None:
    """The MDCT computed as a fold and an N x N DCT-IV is the 2N-wide basis as a strided convolution, and the
    inverse its transposed convolution with the circular wrap (to the float32 rounding of the stored matrices)."""
    from sagasr_export.model.mdct import _Lapped

    for hop in (16, 512):
        lapped = _Lapped(hop).double()
        x = torch.randn(2, 1, hop * 12, dtype=torch.float64, generator=torch.Generator().manual_seed(hop))
        basis = mdct_basis(hop)
        padded = torch.cat([x[..., -hop // 2:], x, x[..., :hop // 2]], -1)
        assert torch.allclose(lapped(x), torch.nn.functional.conv1d(padded, basis, stride=hop), atol=1e-5)
        coeffs = torch.randn(2, hop, 12, dtype=torch.float64)
        frames = torch.nn.functional.conv_transpose1d(coeffs, basis, stride=hop)
        half = hop // 2
        wrapped = torch.cat([frames[..., half:hop] + frames[..., -half:], frames[..., hop:-hop],
                             frames[..., -hop:-half] + frames[..., :half]], -1)
        assert torch.allclose(lapped.inverse(coeffs), wrapped, atol=1e-5)
        assert torch.allclose(lapped.inverse(lapped(x)), x, atol=1e-5)


def test_stacking_puts_consecutive_frames_side_by_side() -> None:
    x = torch.randn(1, 1, 64 * 8)
    one = MDCTAutoencoder(64, 0.5, 1).encoder(x)[:, :64]
    two = MDCTAutoencoder(64, 0.5, 2).encoder(x)[:, :128]
    assert torch.equal(two[:, :64, 1], one[:, :, 2]) and torch.equal(two[:, 64:, 1], one[:, :, 3])


def test_envelope_latent_holds_band_log_power_and_unit_excitation() -> None:
    hop = 64
    ae = EnvelopeAutoencoder(hop, 1)
    x = torch.randn(1, 1, hop * 32, generator=torch.Generator().manual_seed(1)) * 0.1
    latent = ae.encoder(x)[:, : ae.decoder.bands + hop]
    k = ae.decoder.bands
    edges = band_edges(hop)
    coeffs = torch.nn.functional.conv1d(torch.cat([x[..., -hop // 2:], x, x[..., :hop // 2]], -1), mdct_basis(hop).float(), stride=hop)
    for b, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
        power = (coeffs[:, lo:hi] ** 2).mean(dim=1)
        assert torch.allclose(latent[:, b], torch.log(power + 1e-10), atol=1e-4)
        assert torch.allclose((latent[:, k + lo:k + hi] ** 2).mean(dim=1), power / (power + 1e-10), atol=1e-4)


def test_band_edges_cover_every_bin_in_widening_bands() -> None:
    edges = band_edges(512)
    widths = np.diff(edges)
    assert edges[0] == 0 and edges[-1] == 512 and (widths >= 4).all()
    assert (np.diff(widths) >= 0).all() and len(edges) - 1 == 31


def test_dit_generates_envelopes_and_keeps_the_excitation() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = build_model(mdct_config()).eval()
    cfg = model.config
    assert cfg.downsampling == 128 and cfg.latent_frames == 64 and cfg.generated_channels == envelope_channels(64, 2)
    b, c, t = 2, cfg.vae.latent_dim, cfg.latent_frames
    ids, mask = model.tokenize(["drums", "piano"])
    with torch.no_grad():
        v = model.velocity(torch.randn(b, c, t), torch.rand(b), torch.randn(b, c, t), torch.ones(b),
                           model.encode_text(ids, mask), torch.ones(b), torch.rand(b), torch.rand(b))
    g = cfg.generated_channels
    assert v.shape == (b, c, t) and not v[:, g:].any()


@pytest.mark.parametrize("vae,message", [
    ({"kind": "mdct", "hop": 64, "stack": 2, "latent_dim": 64}, "latent channels"),
    ({"kind": "mdct-env", "hop": 63, "stack": 1, "latent_dim": 63}, "even hop"),
    ({"kind": "wavelet", "latent_dim": 8}, "vae.kind"),
])
def test_bad_analytic_vae_configs_are_refused(vae: dict, message: str) -> None:
    cfg = mdct_config()
    cfg["vae"] = vae
    with pytest.raises(ValueError, match=message):
        load_config(cfg)


def test_envelope_model_exports_and_restores(tmp_path) -> None:
    """The bundle's VAE graphs round-trip exactly in ONNX Runtime, and the runtime restores with it."""
    from sagasr_export.exporter import export_bundle
    from sagasr_stream import RestoreSettings, SagaSRModel, restore
    from sagasr_stream.backends.onnx import OnnxBackend
    from sagasr_stream.bundle import load_bundle

    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = build_model(mdct_config()).eval()
        export_bundle(model, tmp_path / "b", defaults={"steps": 2}, store_fp16=True)
    backend = OnnxBackend(load_bundle(tmp_path / "b"), provider="cpu")
    x = (np.random.default_rng(0).standard_normal((2, 1, 8192)) * 0.2).astype(np.float32)
    assert np.abs(backend.decode(backend.encode(x)) - x).max() < 1e-5
    audio = (np.random.default_rng(1).standard_normal(20000) * 0.1).astype(np.float32)
    out = restore(audio, 44100, SagaSRModel.load(tmp_path / "b"), RestoreSettings(seed=3))
    again = restore(audio, 44100, SagaSRModel.load(tmp_path / "b"), RestoreSettings(seed=3))
    assert out.shape == audio.shape and np.isfinite(out).all() and np.array_equal(out, again)


@pytest.mark.parametrize("kind", ["mdct", "mdct-env"])
def test_the_posterior_of_an_analytic_vae_is_refused_by_name(kind: str) -> None:
    # encode_posterior samples through the Oobleck VAE's bottleneck, which the analytic transforms have not
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = build_model(mdct_config(kind)).eval()
    with pytest.raises(ValueError, match=f"vae.kind is '{kind}'"):
        model.encode_posterior(torch.zeros(1, 1, model.config.window_samples))
