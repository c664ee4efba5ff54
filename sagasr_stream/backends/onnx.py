"""ONNX Runtime backend: runs the bundle's graphs on the CPU or CUDA execution provider."""
from __future__ import annotations

import functools
import hashlib
import threading
from typing import Any

import numpy as np

from ..bundle import Bundle, archive_named
from ..errors import BundleError, ParameterError, ProviderError
from ..graphs import GRAPHS
from .base import check_finite_output, check_vae_lengths, dit_values, slope_hint
from .ort_options import session_options
from .row_split import ROW_SPLIT_GRAPHS, RowSplitter, default_workers, thread_setting

PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}


def choose_providers(provider: str) -> list[str]:
    """Map "auto" | "cpu" | "cuda" to an ONNX Runtime provider list; "cuda" fails if CUDA is absent."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    if provider == "cpu":
        return ["CPUExecutionProvider"]
    if provider == "cuda":
        if "CUDAExecutionProvider" not in available:
            raise ProviderError(
                "provider 'cuda' was asked for but ONNX Runtime has no CUDAExecutionProvider here "
                f"(available: {', '.join(available)}); install onnxruntime-gpu (the 'cuda' extra) on a CUDA machine"
            )
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    if provider == "auto":
        return ["CPUExecutionProvider"]
    raise ParameterError(f"provider must be 'auto', 'cpu' or 'cuda', got {provider!r}")


class OnnxBackend:
    """The four graphs of a bundle as ONNX Runtime sessions. ``device`` names the provider in use.

    ``provider="auto"`` uses the CPU; ask for ``"cuda"`` explicitly to run on a GPU. ``threads`` (or
    ``SAGASR_THREADS``): intra-op threads per session (default: ONNX Runtime's, the physical cores), kept as
    :attr:`threads` (the engine finishes as many windows at once, :func:`.row_split.cpu_workers`). On the
    CPU, VAE and DiT calls of several windows run as concurrent row groups on one-thread sessions
    (:mod:`.row_split`; ``SAGASR_ROW_SPLIT=1`` turns it off).
    """

    def __init__(self, bundle: Bundle, provider: str = "auto", threads: int | None = None) -> None:
        threads = thread_setting(threads)

        def make_options(session_threads: int | None = threads) -> Any:  # onnxruntime.SessionOptions
            return session_options(session_threads)

        providers = choose_providers(provider)
        self.manifest = bundle.manifest
        self.sessions = {}
        self._bundle, self._make_options, self._providers, self.threads = bundle, make_options, providers, threads
        self._lazy_lock = threading.RLock()  # the text encoder's first session reads its graph under it
        self._graph_bytes: dict[str, bytes] = {}
        for graph in bundle.manifest.graphs:
            if graph != "text_encoder":  # started on first use: an empty caption never needs it
                self.sessions[graph] = self._start_session(graph)
        self._check_io()
        check_vae_lengths(lambda a: self.sessions["vae_encoder"].run(None, {"audio": a})[0],
                          lambda x: self.sessions["vae_decoder"].run(None, {"latent": x})[0], self.manifest)
        self.device = f"onnxruntime {self.sessions['dit'].get_providers()[0]}"
        on_cpu = providers == ["CPUExecutionProvider"]
        workers = (threads or default_workers()) if on_cpu else 1
        self._splitters = {g: RowSplitter(functools.partial(self._start_session, g, threads=1), workers, rows)
                           for g, rows in ROW_SPLIT_GRAPHS.items() if g in self.sessions and on_cpu}

    def _start_session(self, graph: str, threads: int | None = None) -> Any:  # onnxruntime.InferenceSession
        """An ONNX Runtime session for ``graph`` (from the optimised-graph cache when possible), on ``threads``
        intra-op threads (default: the backend's setting), built from the graph's bytes as verified against the
        manifest (:meth:`_graph_source`), not from its file as it may be by then."""
        from .ort_cache import cached_session, optimised_graph_path

        threads = threads or self.threads
        sha = self.manifest.files[self.manifest.graphs[graph]]
        cached = optimised_graph_path(sha, self._providers, threads)
        with archive_named(self._bundle.extracted):  # the text encoder's starts late, outside SagaSRModel.load's
            source = self._graph_source(graph)
            try:
                return cached_session(source, cached, lambda: self._make_options(threads), self._providers)
            except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
                raise BundleError(f"cannot load graph {graph!r} from {self._bundle.path(graph)}: {exc}") from exc

    def _graph_source(self, graph: str) -> bytes | str:
        """The bytes of ``graph``'s file, read once and checked against the manifest's SHA-256 (a file swapped
        after the bundle was verified, e.g. before the text encoder's first use, raises :class:`BundleError`);
        a graph with external data (the full-size DiT, ``NAME.onnx.data``) by its path, verified at load."""
        name = self.manifest.graphs[graph]
        if f"{name}.data" in self.manifest.files:
            return str(self._bundle.path(graph))
        with self._lazy_lock:
            if graph not in self._graph_bytes:
                data = self._bundle.path(graph).read_bytes()
                if hashlib.sha256(data).hexdigest() != self.manifest.files[name]:
                    raise BundleError(f"bundle file {self._bundle.path(graph)} changed after the bundle was verified "
                                      "(its SHA-256 no longer matches the manifest)")
                self._graph_bytes[graph] = data
            return self._graph_bytes[graph]

    def _check_io(self) -> None:
        channels = self.manifest.latent_channels
        for graph, session in self.sessions.items():
            spec, expected = GRAPHS[graph], self.manifest.graph_inputs(graph)
            inputs = {i.name: i.shape for i in session.get_inputs()}
            outputs = [o.name for o in session.get_outputs()]
            if set(inputs) != {t.name for t in expected} or list(outputs[:1]) != [spec.output.name]:
                raise BundleError(
                    f"graph {graph!r} has inputs {sorted(inputs)} and outputs {outputs}; "
                    f"expected inputs {sorted(t.name for t in expected)} and output {spec.output.name!r}"
                    f"{slope_hint(graph, set(inputs), self.manifest.slope_condition)}"
                )
            for tensor in expected:
                shape = inputs.get(tensor.name)
                if "channels" not in tensor.axes or not shape:
                    continue
                axis = tensor.axes.index("channels")
                if isinstance(shape[axis], int) and shape[axis] != channels:
                    raise BundleError(
                        f"graph {graph!r} input {tensor.name!r} has {shape[axis]} channels; the manifest says {channels}"
                    )
            text = self.manifest.text
            shapes = {**inputs, spec.output.name: session.get_outputs()[0].shape}
            for tensor in (*expected, spec.output):  # the DiT's text_tokens, the text encoder's tokens
                shape = shapes.get(tensor.name)
                if text is None or "text_dim" not in tensor.axes or not shape or len(shape) != len(tensor.axes):
                    continue
                axis = tensor.axes.index("text_dim")
                if isinstance(shape[axis], int) and shape[axis] != text.dim:
                    raise BundleError(f"graph {graph!r} has {shape[axis]}-d text tokens; the manifest says text.dim {text.dim}")

    def _run(self, graph: str, feeds: dict[str, np.ndarray]) -> np.ndarray:
        splitter = self._splitters.get(graph)
        if splitter is not None and splitter.applies(next(iter(feeds.values())).shape[0]):
            out = splitter.run(feeds)  # rows in concurrent groups: the same values, every core busy
        else:
            out = self.sessions[graph].run(None, feeds)[0]
        return check_finite_output(out, graph, self.manifest.name)

    def encode(self, audio: np.ndarray) -> np.ndarray:
        return self._run("vae_encoder", {"audio": audio.astype(np.float32, copy=False)})

    def decode(self, latent: np.ndarray) -> np.ndarray:
        return self._run("vae_decoder", {"latent": latent.astype(np.float32, copy=False)})

    def velocity(self, x: np.ndarray, t: np.ndarray, lr_latent: np.ndarray, lr_keep: np.ndarray,
                 text_tokens: np.ndarray, cross_keep: np.ndarray, rolloff_in: np.ndarray,
                 rolloff_out: np.ndarray, slope_in: np.ndarray | None = None) -> np.ndarray:
        values = dit_values(self.manifest, (x, t, lr_latent, lr_keep, text_tokens, cross_keep, rolloff_in, rolloff_out),
                            slope_in)
        return self._run("dit", {s.name: np.asarray(v, dtype=s.dtype)
                                 for s, v in zip(self.manifest.graph_inputs("dit"), values)})

    def encode_text(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        if "text_encoder" not in self.manifest.graphs:
            raise BundleError("this bundle has no text encoder")
        with self._lazy_lock:
            if "text_encoder" not in self.sessions:
                self.sessions["text_encoder"] = self._start_session("text_encoder")
                self._check_io()
        return self._run("text_encoder", {"input_ids": input_ids, "attention_mask": attention_mask})
