"""A loaded model: verified bundle + backend + tokenizer, with cached caption embeddings."""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np

from .backends.base import Backend
from .bundle import Bundle, Manifest, archive_named, load_bundle
from .errors import BundleError, BundleNotFoundError
from .text import Tokenizer, tokenizer_from_spec
from .validation import check_bool, check_path

DEFAULT_BUNDLE_DIR = Path(__file__).parent / "models" / "default"


def default_bundle_path() -> Path:
    """The bundle shipped inside the package (``SAGASR_MODEL`` overrides it)."""
    override = os.environ.get("SAGASR_MODEL")
    if override:
        if not Path(override).exists():  # say where the path came from: it was not given on this call
            raise BundleNotFoundError(f"model bundle not found: {override} (from the SAGASR_MODEL environment variable; "
                                      "unset it to use the embedded default model)")
        return Path(override)
    if not (DEFAULT_BUNDLE_DIR / "manifest.json").is_file():
        raise BundleNotFoundError(
            f"no embedded default model in this installation ({DEFAULT_BUNDLE_DIR}); pass a bundle with "
            "--model / model=..., or set SAGASR_MODEL"
        )
    return DEFAULT_BUNDLE_DIR


def make_backend(bundle: Bundle, provider: str = "auto", allow_torchscript: bool = False) -> Backend:
    """The backend the manifest names (ONNX Runtime or TorchScript) on the asked provider.

    TorchScript files are loaded by ``torch.jit.load``, which runs code from the file: only with
    ``allow_torchscript=True`` (``--allow-torchscript``), for bundles you trust. ONNX is the default."""
    if bundle.manifest.backend == "torchscript":
        if not allow_torchscript:
            raise BundleError(
                f"{bundle.root}: a TorchScript bundle runs code from its files when loaded; load it only if you "
                "trust it, with allow_torchscript=True (CLI: --allow-torchscript), or use an ONNX bundle"
            )
        from .backends.torchscript import TorchScriptBackend

        return TorchScriptBackend(bundle, provider)
    from .backends.onnx import OnnxBackend

    return OnnxBackend(bundle, provider)


class SagaSRModel:
    """What restoration needs from a bundle. Load with :meth:`load`."""

    def __init__(self, bundle: Bundle, backend: Backend) -> None:
        self.bundle = bundle
        self.manifest: Manifest = bundle.manifest
        self.backend = backend
        text = self.manifest.text
        assert text is not None  # validated with the manifest
        self.tokenizer: Tokenizer | None = None
        if text.tokenizer:
            self.tokenizer = tokenizer_from_spec(bundle.root, text.tokenizer, text.max_tokens)
        self._text_tokens = lru_cache(maxsize=32)(self._encode_caption)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str] | None = None,
        provider: str = "auto",
        verify: bool = True,
        allow_torchscript: bool = False,
    ) -> "SagaSRModel":
        """Open a bundle folder/archive (``None``: the embedded default), verify it and start its backend.
        ``allow_torchscript``: see :func:`make_backend` (TorchScript bundles are trusted code)."""
        if path is not None:
            check_path(path, "path")
        verify = check_bool(verify, "verify")
        allow_torchscript = check_bool(allow_torchscript, "allow_torchscript")  # "no" is truthy: it would run code
        bundle = load_bundle(default_bundle_path() if path is None else path, verify=verify)
        with archive_named(bundle.extracted):  # a graph's error names the archive, not where it was extracted
            return cls(bundle, make_backend(bundle, provider, allow_torchscript))

    def __repr__(self) -> str:
        return f"<SagaSRModel {self.manifest.name!r} from {str(self.bundle.root)!r} on {self.device}>"

    @property
    def device(self) -> str:
        return self.backend.device

    def _encode_caption(self, caption: str) -> np.ndarray:
        text = self.manifest.text
        assert text is not None
        if self.tokenizer is None:  # a model without a text encoder: the null text condition
            return np.zeros((1, 1, text.dim), dtype=np.float32)
        ids, mask = self.tokenizer([caption])
        if not caption:  # the encoder's tokens times an all-zero mask: zeros, without running the encoder
            return np.zeros((1, ids.shape[1], text.dim), dtype=np.float32)
        tokens = self.backend.encode_text(ids, mask).astype(np.float32)
        return tokens * mask[..., None]

    def text_tokens(self, caption: str) -> np.ndarray:
        """(1, S, D) float32 tokens of ``caption`` (all zero for an empty caption); cached."""
        return self._text_tokens(caption)
