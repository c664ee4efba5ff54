"""VAE-only: the same bundle with its DiT bypassed, as an evaluation baseline.

:class:`BypassedDiT` wraps a backend: encoder, decoder and text encoder are the bundle's own; its velocity is
v = (x - lr_latent) / t for every guidance pass. Under the sampler's rectified-flow convention
(x_t = (1 - t) x0 + t noise, v = noise - x0, Euler from t = 1 to 0) that is the velocity of the straight path
from the noise to x0 = lr_latent, so every Euler step stays on it and the last one lands on the band-limited
window's own latent, whatever the steps, guidance scales, caption or target roll-off (the three passes agree,
so any guidance combination returns the same v). The runtime then decodes it, undoes the gain and merges the
low band exactly as for the full model: the output is decode(encode(window)) processed like the runtime does.
"""
from __future__ import annotations

import numpy as np

from ..backends.base import Backend
from ..errors import EvaluationError
from ..model import SagaSRModel


class BypassedDiT:
    """A :class:`~sagasr_stream.backends.base.Backend` whose DiT returns the velocity towards the LR latent."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.device = f"{inner.device} (DiT bypassed: VAE only)"

    def encode(self, audio: np.ndarray) -> np.ndarray:
        """(B, 1, L) -> (B, C, T): the bundle's encoder."""
        return self.inner.encode(audio)

    def decode(self, latent: np.ndarray) -> np.ndarray:
        """(B, C, T) -> (B, 1, T * downsampling): the bundle's decoder."""
        return self.inner.decode(latent)

    def encode_text(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """(B, S) ids and mask -> (B, S, D): the bundle's text encoder (its tokens are ignored downstream)."""
        return self.inner.encode_text(input_ids, attention_mask)

    def velocity(
        self,
        x: np.ndarray,
        t: np.ndarray,
        lr_latent: np.ndarray,
        lr_keep: np.ndarray,
        text_tokens: np.ndarray,
        cross_keep: np.ndarray,
        rolloff_in: np.ndarray,
        rolloff_out: np.ndarray,
        slope_in: np.ndarray | None = None,
    ) -> np.ndarray:
        """(B, C, T) float32: (x - lr_latent) / t per row (every condition ignored). ``lr_latent`` arrives
        un-nulled (the graph would null
        it where ``lr_keep`` is 0), so every pass points at the LR latent. ``t`` (B,) must be > 0."""
        t = np.asarray(t, dtype=np.float32)
        if (t <= 0).any():
            raise EvaluationError(f"BypassedDiT: flow time must be > 0, got {t.min():g}")
        return ((x - lr_latent) / t[:, None, None]).astype(np.float32)


def vae_only_model(model: SagaSRModel) -> SagaSRModel:
    """A model that shares ``model``'s bundle and graphs but bypasses its DiT (see :class:`BypassedDiT`)."""
    return SagaSRModel(model.bundle, BypassedDiT(model.backend))
