"""The ONNX Runtime session options the backend uses, in one place (benchmarks/speed_results.md says why)."""
from __future__ import annotations

from typing import Any


def session_options(threads: int | None = None) -> Any:
    """``onnxruntime.SessionOptions`` for inference: every graph optimisation (``ORT_ENABLE_ALL``; the result
    is saved by :mod:`.ort_cache`), sequential execution (``ORT_PARALLEL`` was 1.2-1.4x slower on the VAE:
    its snake and convolution nodes form one chain), ``threads`` intra-op threads (None: ONNX Runtime's
    default, one per physical core), warnings and errors only."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    if threads:
        options.intra_op_num_threads = threads
    return options
