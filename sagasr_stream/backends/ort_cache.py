"""ONNX Runtime's optimised graphs, saved once per graph and machine so that later loads skip optimising.

The first session of a graph is built as usual and ORT writes the graph it optimised; later sessions load
that file with optimisations off: the same graph, without the cost of building it (about 0.5 s for the
default DiT). The file is keyed by the graph's SHA-256 (from the verified manifest), the ONNX Runtime
version, the provider and the CPU (an ``ORT_ENABLE_ALL`` graph may hold CPU-specific kernels), written
atomically, and dropped when it cannot be loaded. CPU provider only; off with ``SAGASR_NO_CACHE=1``.
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
    source: Path, cached: Path | None, make_options: Callable[[], Any], providers: list[str]
) -> Any:
    """An ``InferenceSession`` of ``source``: from ``cached`` when it is there, else built from ``source``
    (and its optimised graph saved to ``cached``)."""
    import onnxruntime as ort

    if cached is not None and cached.is_file():
        options = make_options()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        try:
            return ort.InferenceSession(str(cached), options, providers=providers)
        except Exception:  # unreadable or from another build: drop it and optimise again
            cached.unlink(missing_ok=True)
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
        session = ort.InferenceSession(str(source), options, providers=providers)
        if tmp is not None and os.path.getsize(tmp) > 0:
            os.replace(tmp, cached)  # type: ignore[arg-type]
        return session
    except Exception:
        if tmp is None:
            raise
        # saving can fail where loading does not (a graph over protobuf's 2 GB, a full disk): load uncached
        return ort.InferenceSession(str(source), make_options(), providers=providers)
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
