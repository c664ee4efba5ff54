"""ONNX Runtime's optimised graphs, saved once per graph and machine so that later loads skip optimising.

The first session of a graph is built as usual and ORT writes the graph it optimised; later sessions load
that file with optimisations off: the same graph, without the cost of building it (about 0.5 s for the
default DiT). The file is keyed by the graph's SHA-256 (from the verified manifest), the ONNX Runtime
version, the provider and the CPU (an ``ORT_ENABLE_ALL`` graph may hold CPU-specific kernels), written
atomically with its own SHA-256 beside it, checked on every load (a damaged or altered file is dropped and the graph
optimised again from the bundle's verified bytes), and dropped when it cannot be loaded. CPU provider only; off
with ``SAGASR_NO_CACHE=1``.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
from pathlib import Path
from typing import Any, Callable

from ..cache import cache_dir, cache_enabled
from ..files import atomic_write_text, sha256_file


def _cpu_identity() -> str:
    """The machine and, on Linux, the CPU model and feature flags (what ORT's kernel choice depends on)."""
    parts = [platform.machine(), platform.system()]
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith(("model name", "flags", "Features")):
                    parts.append(line.strip())
                if line.strip() == "":
                    break  # the first processor is enough
    except OSError:
        parts.append(platform.processor())
    return "\n".join(parts)


def optimised_graph_path(graph_sha256: str, providers: list[str], threads: int | None) -> Path | None:
    """Where the optimised form of the graph with this SHA-256 is cached, or None when not cached."""
    if not cache_enabled() or providers != ["CPUExecutionProvider"]:
        return None
    import onnxruntime as ort

    key = json.dumps([graph_sha256, ort.__version__, providers, threads, _cpu_identity()])
    return cache_dir() / "ort" / f"{hashlib.sha256(key.encode()).hexdigest()[:40]}.onnx"


def cached_session(
    source: bytes | str, cached: Path | None, make_options: Callable[[], Any], providers: list[str]
) -> Any:
    """An ``InferenceSession`` of ``source`` (a graph's verified bytes, or its path): from ``cached`` when it is
    there and still holds what was saved (its SHA-256 beside it), else built from ``source`` (and its optimised
    graph saved to ``cached``)."""
    import onnxruntime as ort

    saved = _read_checked(cached) if cached is not None else None
    if saved is not None:
        options = make_options()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        try:
            return ort.InferenceSession(saved, options, providers=providers)
        except Exception:  # from another build: drop it and optimise again
            _drop(cached)  # type: ignore[arg-type]
    options = make_options()
    tmp = None
    if cached is not None:
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".optimising-", suffix=".onnx", dir=cached.parent)
            os.close(fd)
            options.optimized_model_filepath = tmp
        except OSError:
            tmp = None
    try:
        session = ort.InferenceSession(source, options, providers=providers)
        if tmp is not None and os.path.getsize(tmp) > 0:
            digest = sha256_file(tmp)
            os.replace(tmp, cached)  # type: ignore[arg-type]
            atomic_write_text(_digest_path(cached), digest)  # type: ignore[arg-type]
        return session
    except Exception:
        if tmp is None:
            raise
        # saving can fail where loading does not (a graph over protobuf's 2 GB, a full disk): load uncached
        return ort.InferenceSession(source, make_options(), providers=providers)
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def _digest_path(cached: Path) -> Path:
    return cached.with_suffix(".sha256")


def _read_checked(cached: Path) -> bytes | None:
    """The saved optimised graph's bytes when they still have the SHA-256 recorded beside them; None (and the
    entry dropped) when either file is missing, unreadable, or they disagree (a damaged or altered cache)."""
    try:
        data, digest = cached.read_bytes(), _digest_path(cached).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        if cached.exists():
            _drop(cached)
        return None
    if hashlib.sha256(data).hexdigest() != digest:
        _drop(cached)
        return None
    return data


def _drop(cached: Path) -> None:
    for path in (cached, _digest_path(cached)):
        path.unlink(missing_ok=True)
