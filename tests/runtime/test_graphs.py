"""The graph table of :mod:`sagasr_stream.graphs` is the one contract: the tiny test bundle's graphs, the
backends' feeds and the manifest check follow it (tests/export/test_export.py checks the exporter's graphs)."""
from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pytest

from sagasr_stream.backends.base import DIT_INPUTS, Backend
from sagasr_stream.backends.onnx import OnnxBackend
from sagasr_stream.backends.torchscript import TorchScriptBackend
from sagasr_stream.bundle import GRAPH_NAMES, Manifest, load_bundle
from sagasr_stream.errors import BundleError
from sagasr_stream.evaluation.vae_only import BypassedDiT
from sagasr_stream.graphs import GRAPHS, REQUIRED_GRAPHS


def check_graph_file(path: Path, graph: str, sizes: dict[str, int], symbolic_outputs: bool = False,
                     optional: tuple[str, ...] = ()) -> None:
    """Assert that the ONNX file ``path`` has exactly the inputs (in order; with the ``optional`` ones named) and
    output of ``GRAPHS[graph]``:
    names, element types, ranks, dynamic axes by name and fixed axes by ``sizes``. ``symbolic_outputs``
    tolerates a fixed output axis that the tracer left as an inferred symbol (torch.onnx does that)."""
    import onnx
    from onnx import helper

    model = onnx.load(str(path), load_external_data=False)
    spec = GRAPHS[graph]
    expected = spec.inputs_with(optional)
    inputs = [i for i in model.graph.input if i.name not in {init.name for init in model.graph.initializer}]
    assert [i.name for i in inputs] == [t.name for t in expected], graph
    assert [o.name for o in model.graph.output][:1] == [spec.output.name], graph
    for tensor, info in zip((*expected, spec.output), (*inputs, model.graph.output[0])):
        ttype = info.type.tensor_type
        assert helper.tensor_dtype_to_np_dtype(ttype.elem_type) == np.dtype(tensor.dtype), (graph, tensor.name)
        dims = [d.dim_param or d.dim_value for d in ttype.shape.dim]
        assert len(dims) == len(tensor.axes), (graph, tensor.name, dims)
        for dim, want, axis in zip(dims, tensor.shape(sizes), tensor.axes):
            if axis in tensor.dynamic_axes().values():
                assert isinstance(dim, str) and dim == axis, (graph, tensor.name, dims)  # exported as dynamic
            elif symbolic_outputs and tensor is spec.output and isinstance(dim, str):
                assert dim not in tensor.dynamic_axes().values(), (graph, tensor.name, dims)
            else:
                assert dim == want, (graph, tensor.name, dims)


def test_table_lists_the_four_graphs_and_the_dit_order():
    assert GRAPH_NAMES == ("vae_encoder", "vae_decoder", "dit", "text_encoder")
    assert REQUIRED_GRAPHS == ("vae_encoder", "vae_decoder", "dit")
    assert DIT_INPUTS == ("x", "t", "lr_latent", "lr_keep", "text_tokens", "cross_keep", "rolloff_in", "rolloff_out")
    assert GRAPHS["dit"].dynamic_axes()["text_tokens"] == {0: "batch", 1: "tokens"}
    assert GRAPHS["vae_encoder"].dynamic_axes() == {"audio": {0: "batch", 2: "samples"}, "latent": {0: "batch", 2: "frames"}}
    assert [t.dtype for t in GRAPHS["text_encoder"].inputs] == ["int64", "int64"]


def test_backends_take_the_dit_inputs_in_table_order():
    optional = tuple(t.name for t in GRAPHS["dit"].optional_inputs)
    assert optional == ("slope_in",)
    for cls in (Backend, OnnxBackend, TorchScriptBackend, BypassedDiT):
        params = inspect.signature(cls.velocity).parameters
        assert tuple(params)[1:] == DIT_INPUTS + optional, cls
        assert all(params[name].default is None for name in optional), cls


def test_the_optional_dit_input_comes_last_and_only_when_named():
    spec = GRAPHS["dit"]
    assert spec.inputs_with() == spec.inputs
    assert [t.name for t in spec.inputs_with(("slope_in",))] == [*DIT_INPUTS, "slope_in"]
    assert spec.inputs_with(("slope_in",))[-1].axes == ("batch",)
    with pytest.raises(ValueError, match="no optional input"):
        spec.inputs_with(("darkness",))


def test_tiny_bundle_graphs_follow_the_table(tiny_bundle):
    pytest.importorskip("onnx")
    bundle = load_bundle(tiny_bundle)
    sizes = {"channels": bundle.manifest.latent_channels, "text_dim": bundle.manifest.text.dim}
    assert set(bundle.manifest.graphs) == set(GRAPH_NAMES)
    for graph in bundle.manifest.graphs:
        check_graph_file(bundle.path(graph), graph, sizes)


def test_onnx_backend_feeds_the_table_names_and_dtypes(tiny_bundle, monkeypatch):
    backend = OnnxBackend(load_bundle(tiny_bundle), provider="cpu")
    fed = {}
    real_run = backend._run

    def spy(graph, feeds):
        fed[graph] = {k: v.dtype for k, v in feeds.items()}
        return real_run(graph, feeds)

    monkeypatch.setattr(backend, "_run", spy)
    c, d = backend.manifest.latent_channels, backend.manifest.text.dim
    ones = np.ones(2)  # float64 on purpose: the backend casts to the table's dtype
    backend.velocity(np.zeros((2, c, 4)), ones, np.zeros((2, c, 4)), ones, np.zeros((2, 3, d)), ones, ones / 4, ones / 2)
    backend.encode_text(np.ones((2, 3), dtype=np.int64), np.ones((2, 3), dtype=np.int64))
    for graph in ("dit", "text_encoder"):
        assert list(fed[graph]) == list(GRAPHS[graph].input_names)
        assert [str(v) for v in fed[graph].values()] == [t.dtype for t in GRAPHS[graph].inputs]


def test_the_manifest_check_requires_the_table_graphs(tiny_bundle):
    manifest = load_bundle(tiny_bundle).manifest
    for graph in REQUIRED_GRAPHS:
        graphs = {k: v for k, v in manifest.graphs.items() if k != graph}
        with pytest.raises(BundleError, match=f"graph '{graph}' is missing"):
            Manifest(**{**manifest.__dict__, "graphs": graphs}).validate()
    with pytest.raises(BundleError, match="unknown graph"):
        Manifest(**{**manifest.__dict__, "graphs": {**manifest.graphs, "vocoder": "dit.onnx"}}).validate()
