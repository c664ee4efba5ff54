"""TorchScript backend: traced graphs (``*.pt``) of the same contract, used when torch is installed.

TorchScript archives hold code and tensors and are loaded with ``torch.jit.load``, which runs that code: the
runtime loads them only with ``allow_torchscript=True`` (see :func:`sagasr_stream.model.make_backend`).
"""
from __future__ import annotations

import numpy as np

from ..bundle import Bundle, Manifest
from ..errors import BundleError, ProviderError
from ..graphs import GRAPHS
from .base import _last_line, check_finite_output, check_vae_lengths, dit_values


class TorchScriptBackend:
    """The bundle's graphs through ``torch.jit``; ``provider`` "auto" uses CUDA when torch sees it."""

    def __init__(self, bundle: Bundle, provider: str = "auto") -> None:
        try:
            import torch
        except ImportError as exc:
            raise BundleError("this bundle holds TorchScript graphs, which need torch: pip install torch") from exc
        self._torch = torch
        self.manifest = bundle.manifest
        self.manifest_name = bundle.manifest.name
        if provider == "cuda" and not torch.cuda.is_available():
            raise ProviderError("provider 'cuda' was asked for but torch sees no CUDA device")
        self._device = torch.device("cuda" if provider in ("cuda", "auto") and torch.cuda.is_available() else "cpu")
        self.modules = {}
        for graph in bundle.manifest.graphs:
            try:
                self.modules[graph] = torch.jit.load(str(bundle.path(graph)), map_location=self._device).eval()
            except Exception as exc:
                raise BundleError(f"cannot load TorchScript graph {graph!r} from {bundle.path(graph)}: {exc}") from exc
        self.device = f"torchscript {self._device}"
        check_vae_lengths(self.encode, self.decode, bundle.manifest)
        self._check_shapes(bundle.manifest)

    def _check_shapes(self, manifest: Manifest) -> None:
        """Traced graphs declare no shapes: run the DiT (and the text encoder) once on one row of zeros and raise
        :class:`BundleError` unless they take the manifest's latent channels and text token width."""
        assert manifest.text is not None  # validated with the manifest
        channels, dim = manifest.latent_channels, manifest.text.dim
        one = np.ones(1, np.float32)
        try:
            v = self.velocity(np.zeros((1, channels, 2), np.float32), one / 2, np.zeros((1, channels, 2), np.float32),
                              one, np.zeros((1, 1, dim), np.float32), one, one / 2, one / 2,
                              -6 * one if manifest.slope_condition else None)
            tokens = (self.encode_text(np.zeros((1, 1), np.int64), np.ones((1, 1), np.int64))
                      if "text_encoder" in self.modules else np.zeros((1, 1, dim), np.float32))
        except Exception as exc:
            raise BundleError(f"the TorchScript graphs do not take the manifest's shapes ({channels} latent channels, "
                              f"{dim}-d text tokens): {_last_line(exc)}") from exc
        if v.shape != (1, channels, 2):
            raise BundleError(f"graph 'dit' gives a velocity of shape {v.shape[1:]}; the manifest says ({channels}, 2)")
        if tokens.shape[-1] != dim:
            raise BundleError(f"graph 'text_encoder' gives {tokens.shape[-1]}-d tokens; the manifest says text.dim {dim}")

    def _run(self, graph: str, *arrays: np.ndarray) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            tensors = [torch.from_numpy(np.ascontiguousarray(a)).to(self._device) for a in arrays]
            out = self.modules[graph](*tensors).float().cpu().numpy()
        return check_finite_output(out, graph, self.manifest_name)

    def encode(self, audio: np.ndarray) -> np.ndarray:
        return self._run("vae_encoder", audio.astype(np.float32, copy=False))

    def decode(self, latent: np.ndarray) -> np.ndarray:
        return self._run("vae_decoder", latent.astype(np.float32, copy=False))

    def velocity(self, x: np.ndarray, t: np.ndarray, lr_latent: np.ndarray, lr_keep: np.ndarray,
                 text_tokens: np.ndarray, cross_keep: np.ndarray, rolloff_in: np.ndarray,
                 rolloff_out: np.ndarray, slope_in: np.ndarray | None = None) -> np.ndarray:
        values = dit_values(self.manifest, (x, t, lr_latent, lr_keep, text_tokens, cross_keep, rolloff_in, rolloff_out),
                            slope_in)
        specs = self.manifest.graph_inputs("dit")
        return self._run("dit", *(np.asarray(v, dtype=s.dtype) for s, v in zip(specs, values)))

    def encode_text(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        if "text_encoder" not in self.modules:
            raise BundleError("this bundle has no text encoder")
        spec = GRAPHS["text_encoder"]
        return self._run("text_encoder", *(np.asarray(a).astype(s.dtype) for s, a in zip(spec.inputs, (input_ids, attention_mask))))
