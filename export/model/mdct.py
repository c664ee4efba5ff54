"""An analytic, exactly invertible "VAE": a power-compressed circular MDCT.

For the small default model a learned VAE that a CPU can train was the limit (its latents of band-limited and
full-band windows hardly differed, so the DiT had nothing to learn). This transform takes the VAE's place:
the round trip is exact, so every change to the restored band comes from the DiT.

- Encoder: circular padding by N/2, the MDCT with a sine window (orthonormal: Princen-Bradley; :func:`mdct_basis`)
  computed as a fold of each windowed 2N-sample frame to N samples and one N x N DCT-IV product (half the
  multiply-adds of the 2N-wide basis), then ``sign(X) |X|^alpha`` per coefficient, then K consecutive
  frames stacked on the channel axis (K = ``stack``): (B, 1, L) -> (B, K N, L / (K N)); channel
  ``k N + b`` is bin ``b`` (width sr / (2N) Hz) of the k-th frame of the group. Stacking keeps the time
  resolution of one frame per N samples while the DiT sees K times fewer, wider tokens.
- Decoder: ``sign(c) |c|^(1 / alpha)``, the DCT-IV product, the fold's transpose (unfold), window, circular
  overlap-add: the transposed MDCT basis.
  Time-domain aliasing cancels between neighbouring frames (TDAC), circularly at the window's two ends, so
  decode(encode(x)) == x to float rounding for any L = T * N with T >= 2.

Both halves are one matrix product, slices, flips and element-wise ops: they trace to ONNX like the Oobleck halves.
The encoder returns ``2N`` channels (coefficients, then zeros) so the VAE contract "mean = first half" holds.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


def mdct_basis(hop: int) -> torch.Tensor:
    """Orthonormal MDCT basis with a sine window: (hop, 1, 2 * hop) float64 (as a conv1d weight). The reference
    definition; the transforms compute it in folded form (:class:`_Lapped`)."""
    n = torch.arange(2 * hop, dtype=torch.float64)
    k = torch.arange(hop, dtype=torch.float64)
    window = torch.sin(math.pi * (n + 0.5) / (2 * hop))
    phase = math.pi / hop * (n[None, :] + 0.5 + hop / 2) * (k[:, None] + 0.5)
    return (math.sqrt(2.0 / hop) * window[None, :] * torch.cos(phase))[:, None, :]


class _Lapped(nn.Module):
    """The MDCT of hop N as a fold and a DCT-IV: buffers ``window`` (2N,) (sine) and ``dct4`` (N, N), the scaled
    DCT-IV matrix sqrt(2 / N) cos(pi / N (m + 1/2)(k + 1/2)), float32."""

    window: torch.Tensor  # buffers (register_buffer), declared for the type checker
    dct4: torch.Tensor

    def __init__(self, hop: int) -> None:
        super().__init__()
        self.hop = hop
        n = torch.arange(2 * hop, dtype=torch.float64)
        m = torch.arange(hop, dtype=torch.float64)
        dct4 = math.sqrt(2.0 / hop) * torch.cos(math.pi / hop * (m[:, None] + 0.5) * (m[None, :] + 0.5))
        self.register_buffer("window", torch.sin(math.pi * (n + 0.5) / (2 * hop)).float(), persistent=False)
        self.register_buffer("dct4", dct4.float(), persistent=False)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        return _mdct(audio, self.window.to(audio.dtype), self.dct4.to(audio.dtype), self.hop)

    def inverse(self, coeffs: torch.Tensor) -> torch.Tensor:
        return _imdct(coeffs, self.window.to(coeffs.dtype), self.dct4.to(coeffs.dtype), self.hop)


class MDCTEncoder(nn.Module):
    """(B, 1, L) audio -> (B, 2 K N, L / (K N)): stacked compressed MDCT coefficients, then K N zero channels."""

    def __init__(self, hop: int, alpha: float, stack: int = 1) -> None:
        super().__init__()
        self.hop, self.alpha, self.stack = hop, alpha, stack
        self.lapped = _Lapped(hop)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        coeffs = self.lapped(audio)  # (B, N, T)
        compressed = torch.sign(coeffs) * torch.abs(coeffs).pow(self.alpha)
        stacked = _stack(compressed, self.stack)
        return torch.cat([stacked, torch.zeros_like(stacked)], dim=1)


class MDCTDecoder(nn.Module):
    """(B, K N, T) stacked compressed coefficients -> (B, 1, T * K * N) audio."""

    def __init__(self, hop: int, alpha: float, stack: int = 1) -> None:
        super().__init__()
        self.hop, self.alpha, self.stack = hop, alpha, stack
        self.lapped = _Lapped(hop)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        frames_first = _unstack(latent, self.stack)
        coeffs = torch.sign(frames_first) * torch.abs(frames_first).pow(1.0 / self.alpha)
        return self.lapped.inverse(coeffs)


class MDCTAutoencoder(nn.Module):
    """Holds the two halves under the names the Oobleck autoencoder uses (``encoder``, ``decoder``)."""

    def __init__(self, hop: int, alpha: float, stack: int = 1) -> None:
        super().__init__()
        self.encoder = MDCTEncoder(hop, alpha, stack)
        self.decoder = MDCTDecoder(hop, alpha, stack)


# --- band envelope + excitation ------------------------------------------------------------------------------
def band_edges(hop: int, min_bins: int = 4, fraction: float = 1 / 6) -> list[int]:
    """Edges (bin indices, first 0, last ``hop``) of the envelope bands over ``hop`` MDCT bins: each band is at
    least ``min_bins`` wide and at least ``fraction`` of an octave (1/6 octave above ~2 kHz at hop 512)."""
    edges = [0]
    while edges[-1] < hop:
        width = max(min_bins, math.ceil(edges[-1] * (2 ** fraction - 1)))
        edges.append(min(hop, edges[-1] + width))
    if edges[-1] - edges[-2] < min_bins and len(edges) > 2:  # no sliver at the top
        edges.pop(-2)
    return edges


def band_matrix(hop: int) -> torch.Tensor:
    """(K, hop) float64: row k averages the bins of band k (1 / width on its bins)."""
    edges = band_edges(hop)
    m = torch.zeros(len(edges) - 1, hop, dtype=torch.float64)
    for k, (a, b) in enumerate(zip(edges[:-1], edges[1:])):
        m[k, a:b] = 1.0 / (b - a)
    return m


LOG_FLOOR = 1e-10  # power floor of the log band energies


class EnvelopeEncoder(nn.Module):
    """(B, 1, L) audio -> (B, 2C, L / (S N)), C = S (K + N): per MDCT frame (hop N) the log mean power of its
    K bands, then its N coefficients divided by their band's RMS (the excitation: unit power per band);
    S frames stacked per latent frame (first the S envelopes, then the S excitations); then C zero channels."""

    pool: torch.Tensor  # buffers (register_buffer), declared for the type checker
    spread: torch.Tensor

    def __init__(self, hop: int, stack: int = 1) -> None:
        super().__init__()
        self.hop, self.stack = hop, stack
        self.lapped = _Lapped(hop)
        bands = band_matrix(hop)
        self.register_buffer("pool", bands.float(), persistent=False)                    # (K, N)
        self.register_buffer("spread", (bands > 0).double().T.contiguous().float(), persistent=False)  # (N, K)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        coeffs = self.lapped(audio)  # (B, N, T)
        power = torch.einsum("kn,bnt->bkt", self.pool, coeffs * coeffs) + LOG_FLOOR  # (B, K, T)
        excitation = coeffs * torch.rsqrt(torch.einsum("nk,bkt->bnt", self.spread, power))
        latent = torch.cat([_stack(torch.log(power), self.stack), _stack(excitation, self.stack)], dim=1)
        return torch.cat([latent, torch.zeros_like(latent)], dim=1)


class EnvelopeDecoder(nn.Module):
    """Inverse of :class:`EnvelopeEncoder`: coefficients = excitation x band RMS, then the inverse MDCT."""

    spread: torch.Tensor  # a buffer (register_buffer), declared for the type checker

    def __init__(self, hop: int, stack: int = 1) -> None:
        super().__init__()
        self.hop, self.stack = hop, stack
        self.bands = band_matrix(hop).shape[0]
        self.lapped = _Lapped(hop)
        self.register_buffer("spread", (band_matrix(hop) > 0).double().T.contiguous().float(), persistent=False)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        k = self.stack * self.bands
        log_power, excitation = _unstack(latent[:, :k], self.stack), _unstack(latent[:, k:], self.stack)
        coeffs = excitation * torch.sqrt(torch.einsum("nk,bkt->bnt", self.spread, torch.exp(log_power)))
        return self.lapped.inverse(coeffs)


class EnvelopeAutoencoder(nn.Module):
    """The ``mdct-env`` transform's two halves (``encoder``, ``decoder``)."""

    def __init__(self, hop: int, stack: int = 1) -> None:
        super().__init__()
        self.encoder = EnvelopeEncoder(hop, stack)
        self.decoder = EnvelopeDecoder(hop, stack)


def envelope_channels(hop: int, stack: int) -> int:
    """Latent channels of the envelopes (the part a DiT generates) for ``mdct-env``."""
    return stack * (len(band_edges(hop)) - 1)


def _stack(frames: torch.Tensor, stack: int) -> torch.Tensor:
    """(B, D, T) -> (B, S D, T / S): S consecutive frames side by side on the channel axis."""
    b, d, t = frames.shape
    return frames.reshape(b, d, t // stack, stack).permute(0, 3, 1, 2).reshape(b, stack * d, t // stack)


def _unstack(latent: torch.Tensor, stack: int) -> torch.Tensor:
    """Inverse of :func:`_stack`: (B, S D, T) -> (B, D, T S)."""
    b, c, t = latent.shape
    return latent.reshape(b, stack, c // stack, t).permute(0, 2, 3, 1).reshape(b, c // stack, t * stack)


def _mdct(audio: torch.Tensor, window: torch.Tensor, dct4: torch.Tensor, hop: int) -> torch.Tensor:
    """(B, 1, T N) audio -> (B, N, T) MDCT coefficients: circular padding by N/2; each frame of 2N samples
    (hop N) windowed and folded to N samples, [a, b, c, d] -> [-c' - d, a - b'] (quarters; ' = reversed), then
    the DCT-IV. Equal to ``conv1d`` with :func:`mdct_basis` (stride N) up to float rounding."""
    half = hop // 2
    padded = torch.cat([audio[..., -half:], audio, audio[..., :half]], dim=-1)
    blocks = padded.reshape(padded.shape[0], -1, hop)  # (B, T + 1, N)
    first, second = blocks[:, :-1] * window[:hop], blocks[:, 1:] * window[hop:]  # each frame's two halves
    folded = torch.cat([-second[..., :half].flip(-1) - second[..., half:], first[..., :half] - first[..., half:].flip(-1)], dim=-1)
    return torch.matmul(folded, dct4).transpose(1, 2)


def _imdct(coeffs: torch.Tensor, window: torch.Tensor, dct4: torch.Tensor, hop: int) -> torch.Tensor:
    """(B, N, T) MDCT coefficients -> (B, 1, T N) audio: the DCT-IV, the fold's transpose [v1, v2] ->
    [v2, -v2', -v1', -v1], the window, then circular overlap-add (time-domain aliasing cancels between frames).
    Equal to ``conv_transpose1d`` with :func:`mdct_basis` plus the circular wrap, up to float rounding."""
    half = hop // 2
    v = torch.matmul(coeffs.transpose(1, 2), dct4.T)  # (B, T, N)
    frames = torch.cat([v[..., half:], -v[..., half:].flip(-1), -v[..., :half].flip(-1), -v[..., :half]], dim=-1) * window
    first, second = frames[..., :hop], frames[..., hop:]  # (B, T, N): frame t covers blocks t and t + 1
    edge = torch.zeros_like(first[:, :1])
    blocks = torch.cat([first, edge], dim=1) + torch.cat([edge, second], dim=1)  # (B, T + 1, N)
    laid = blocks.reshape(blocks.shape[0], 1, -1)  # (B, 1, (T + 1) N), padded by N/2 at each end
    head = laid[..., half:hop] + laid[..., -half:]
    tail = laid[..., -hop:-half] + laid[..., :half]
    return torch.cat([head, laid[..., hop:-hop], tail], dim=-1)
