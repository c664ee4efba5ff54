"""export/optimize.py: graph passes that keep every value and make ONNX Runtime faster."""
from __future__ import annotations

import json

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from sagasr_export.optimize import square_pow_to_mul
from sagasr_export.optimize_cli import main
from sagasr_stream import RestoreSettings, SagaSRModel, restore
from sagasr_stream.bundle import load_bundle
from sagasr_stream.model import DEFAULT_BUNDLE_DIR

from ..conftest import band_limited_noise


def _snake_graph():
    """y = x + c * sin(a x)^2 (exponent a Constant node) and z = x^3 (not a square: left alone)."""
    init = [numpy_helper.from_array(np.float32([[[1.5], [0.7]]]), "a"),
            numpy_helper.from_array(np.float32([[[0.4], [2.0]]]), "c"),
            numpy_helper.from_array(np.float32(3.0), "three")]
    nodes = [helper.make_node("Constant", [], ["two"], value=numpy_helper.from_array(np.float32(2.0))),
             helper.make_node("Mul", ["x", "a"], ["ax"]), helper.make_node("Sin", ["ax"], ["s"]),
             helper.make_node("Pow", ["s", "two"], ["s2"]), helper.make_node("Mul", ["s2", "c"], ["cs2"]),
             helper.make_node("Add", ["x", "cs2"], ["y"]), helper.make_node("Pow", ["x", "three"], ["z"])]
    io = lambda name: helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, 2, None])  # noqa: E731
    graph = helper.make_graph(nodes, "snake", [io("x")], [io("y"), io("z")], init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def _run(model, x):
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})


def test_square_pow_becomes_mul_with_identical_values():
    model = _snake_graph()
    x = np.random.default_rng(0).standard_normal((1, 2, 4096)).astype(np.float32) * 4
    before = _run(model, x)
    assert square_pow_to_mul(model) == 1
    assert [n.op_type for n in model.graph.node].count("Pow") == 1  # x^3 stays
    after = _run(model, x)
    for a, b in zip(before, after):
        assert np.array_equal(a, b)


def test_the_exporter_applies_the_passes(onnx_bundle):
    import onnx

    manifest = load_bundle(onnx_bundle).manifest
    passes = manifest.provenance["graph_passes"]
    assert passes["vae_encoder.onnx"]["square_pow_to_mul"] > 0 and passes["vae_decoder.onnx"]["square_pow_to_mul"] > 0
    for graph in ("vae_encoder", "vae_decoder"):
        ops = [n.op_type for n in onnx.load(str(onnx_bundle / manifest.graphs[graph])).graph.node]
        assert "Pow" not in ops and "Sin" in ops


@pytest.mark.skipif(not (DEFAULT_BUNDLE_DIR / "manifest.json").is_file(), reason="no embedded default model")
def test_optimising_a_bundle_copy_keeps_the_source_and_every_output(tmp_path):
    source = load_bundle(DEFAULT_BUNDLE_DIR)
    hashes = dict(source.manifest.files)
    out = tmp_path / "optimised"
    assert main([str(DEFAULT_BUNDLE_DIR), str(out)]) == 0
    optimised = load_bundle(out)  # hashes verified
    assert load_bundle(DEFAULT_BUNDLE_DIR).manifest.files == hashes
    passes = optimised.manifest.provenance["graph_passes"]
    assert passes["dit.onnx"]["square_pow_to_mul"] == 0  # the embedded default is already optimised ...
    audio = band_limited_noise(30000, seed=2)
    settings = RestoreSettings(steps=1)
    a = restore(audio, 44100, SagaSRModel.load(DEFAULT_BUNDLE_DIR), settings)
    b = restore(audio, 44100, SagaSRModel.load(out), settings)
    assert np.array_equal(a, b)  # ... and a second pass changes no value either
    assert main([str(DEFAULT_BUNDLE_DIR), str(out)]) == 2  # never into a folder that holds files
    assert json.loads((out / "manifest.json").read_text())["files"] == optimised.manifest.files


def test_an_output_inside_the_source_bundle_is_refused_and_the_source_left_alone(tmp_path, capsys):
    """The copy used to be staged inside the bundle it copies: the source then held a folder its manifest does not
    list and no longer loaded."""
    import shutil

    source = tmp_path / "bundle"
    shutil.copytree(DEFAULT_BUNDLE_DIR, source)
    before = sorted(p.name for p in source.iterdir())
    assert main([str(source), str(source / "optimised")]) == 2
    assert "inside the source bundle" in capsys.readouterr().err
    assert sorted(p.name for p in source.iterdir()) == before
    load_bundle(source)  # still whole
