"""ONNX graph passes that make a bundle faster on ONNX Runtime with the same values, run by the exporter on
every graph it writes and applicable to an existing bundle:

    python -m sagasr_export.optimize_cli BUNDLE OUT_FOLDER

What a pass may do: rewrite nodes into cheaper ones that compute bit-identical results (checked by
tests/export/test_optimize.py on random inputs). Measured on the default model (benchmarks/speed_results.md):

- ``Pow(x, 2)`` -> ``Mul(x, x)``: the snake activation's square, x + sin(a x)^2 / b, 36 nodes in each VAE half.
  ONNX Runtime's Pow is a generic broadcasting kernel; Mul(x, x) gives the same float32 numbers, faster.

Not done here, and why: weight norm is already folded into plain convolution weights before tracing
(``exporter.remove_weight_norm``); constant subgraphs (the snake's exp(log alpha), 1 / (beta + eps), the
float16-stored weights' Casts) are folded by ONNX Runtime when a session is built and saved by the runtime's
optimised-graph cache (``sagasr_stream/backends/ort_cache.py``), so folding them into the file would only
double the float16-stored weights.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from sagasr_stream.bundle import MANIFEST, Manifest, load_bundle, write_manifest
from sagasr_stream.files import atomic_folder


def _constant_values(graph: Any) -> dict[str, np.ndarray]:
    """Tensor name -> value for initializers and Constant nodes with a ``value`` tensor."""
    from onnx import numpy_helper

    values = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value":
                    values[node.output[0]] = numpy_helper.to_array(attr.t)
    return values


def square_pow_to_mul(model: Any) -> int:
    """Rewrite every ``Pow(x, 2)`` (exponent a constant scalar 2) as ``Mul(x, x)``; returns the count."""
    graph = model.graph
    values = _constant_values(graph)
    count = 0
    for node in graph.node:
        if node.op_type != "Pow" or len(node.input) != 2:
            continue
        exponent = values.get(node.input[1])
        if exponent is None or exponent.size != 1 or float(exponent.reshape(())) != 2.0:
            continue
        node.op_type = "Mul"
        node.input[1] = node.input[0]
        count += 1
    return count


def drop_unused_constants(model: Any) -> int:
    """Remove Constant nodes and initializers that no node or graph output reads; returns how many."""
    graph = model.graph
    used = {name for node in graph.node for name in node.input} | {o.name for o in graph.output}
    used |= {name for node in graph.node for attr in node.attribute if attr.g for name in _subgraph_inputs(attr.g)}
    dead_nodes = [n for n in graph.node if n.op_type == "Constant" and n.output[0] not in used]
    for node in dead_nodes:
        graph.node.remove(node)
    dead_inits = [i for i in graph.initializer if i.name not in used]
    for init in dead_inits:
        graph.initializer.remove(init)
    return len(dead_nodes) + len(dead_inits)


def _subgraph_inputs(graph: Any) -> set[str]:
    return {name for node in graph.node for name in node.input}


PASSES = {"square_pow_to_mul": square_pow_to_mul}


def optimize_graph_file(path: Path) -> dict[str, int]:
    """Apply :data:`PASSES` to the ONNX file ``path`` in place (external data kept external); returns the
    number of rewrites per pass. The file is rewritten only when a pass changed something."""
    import onnx

    path = Path(path)
    data = path.with_name(path.name + ".data")
    model = onnx.load(str(path), load_external_data=True)
    counts = {name: fn(model) for name, fn in PASSES.items()}
    if not any(counts.values()):
        return counts
    drop_unused_constants(model)
    if data.exists():  # everything is in memory: write the data file afresh (files of a folder being built)
        data.unlink()
        onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=data.name, size_threshold=1024)
    else:
        tmp = path.with_name(path.name + ".optimising")
        onnx.save_model(model, str(tmp))
        tmp.replace(path)
    return counts


def optimize_graphs(root: Path, graph_files: Sequence[str]) -> dict[str, dict[str, int]]:
    """:func:`optimize_graph_file` for each ONNX graph file under ``root``; -> file -> pass -> rewrites."""
    return {f: optimize_graph_file(Path(root) / f) for f in graph_files if f.endswith(".onnx")}


def optimize_bundle(source: str | Path, out_dir: str | Path) -> Manifest:
    """Write an optimised copy of the ONNX bundle ``source`` to the new folder ``out_dir`` (the source is
    never changed): graphs rewritten by :data:`PASSES`, manifest hashes updated, the rewrites recorded in
    ``provenance["graph_passes"]``."""
    bundle = load_bundle(source)  # verifies the source's hashes
    if bundle.manifest.backend != "onnx":
        raise ValueError(f"{source}: only ONNX bundles can be optimised (this one is {bundle.manifest.backend})")
    out = Path(out_dir)
    if out.resolve().is_relative_to(Path(bundle.root).resolve()):  # the copy would land in the source it copies
        raise ValueError(f"{out} is inside the source bundle {source}: choose a folder outside it")
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} exists and is not empty")
    with atomic_folder(out) as staging:
        shutil.copytree(bundle.root, staging, dirs_exist_ok=True)
        passes = optimize_graphs(staging, list(bundle.manifest.graphs.values()))
        fields = json.loads((staging / MANIFEST).read_text(encoding="utf-8"))
        for key in ("files", "format", "format_version"):
            fields.pop(key, None)
        fields.setdefault("provenance", {})["graph_passes"] = passes
        (staging / MANIFEST).unlink()
        return write_manifest(staging, fields)
