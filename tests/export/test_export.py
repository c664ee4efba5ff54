"""Exported graphs (ONNX Runtime and TorchScript) match the torch model at batch sizes, lengths and token
counts other than the ones used for export (export: batch 2, 32 frames, max_tokens tokens)."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from sagasr_stream.backends.base import DIT_INPUTS
from sagasr_stream.bundle import load_bundle
from sagasr_stream.errors import BundleError

from sagasr_export.cli import main as cli_main
from sagasr_export.exporter import export_bundle
from sagasr_export.model import build_model, named_config

ATOL = {"vae_encoder": 1e-4, "vae_decoder": 1e-4, "dit": 1e-4, "text_encoder": 1e-4}  # absolute, float32


def _cases(model, batch, frames, tokens):
    g = torch.Generator().manual_seed(batch * 100 + frames)
    c, d = model.config.vae.latent_dim, model.text_encoder.dim
    keep = (torch.arange(batch) % 2).float()
    ids, mask = model.tokenize(["a bright piano with drums and bass"] * batch)
    return {
        "vae_encoder": (torch.randn(batch, 1, frames * 2048, generator=g) * 0.2,),
        "vae_decoder": (torch.randn(batch, c, frames, generator=g),),
        "dit": (torch.randn(batch, c, frames, generator=g), torch.rand(batch, generator=g),
                torch.randn(batch, c, frames, generator=g), keep, torch.randn(batch, tokens, d, generator=g),
                1 - keep, torch.rand(batch, generator=g), torch.rand(batch, generator=g)),
        "text_encoder": (ids[:, :tokens], mask[:, :tokens]),
    }


def _torch_ref(model, graph, inputs):
    with torch.no_grad():
        fn = {"vae_encoder": model.encode_audio, "vae_decoder": model.decode_latent, "dit": model.velocity,
              "text_encoder": model.encode_text}[graph]
        return fn(*inputs).numpy()


SHAPES = [(1, 32, 12), (3, 16, 7), (5, 8, 12)]


@pytest.mark.parametrize("batch, frames, tokens", SHAPES)
def test_onnx_graphs_match_torch(tiny_model, onnx_bundle, batch, frames, tokens):
    import onnxruntime as ort

    bundle = load_bundle(onnx_bundle)
    cases = _cases(tiny_model, batch, frames, tokens)
    for graph, inputs in cases.items():
        session = ort.InferenceSession(str(bundle.path(graph)), providers=["CPUExecutionProvider"])
        names = [i.name for i in session.get_inputs()]
        if graph == "dit":
            assert tuple(names) == DIT_INPUTS
        got = session.run(None, {n: x.numpy() for n, x in zip(names, inputs)})[0]
        want = _torch_ref(tiny_model, graph, inputs)
        assert got.shape == want.shape and got.dtype == np.float32
        err = np.abs(got - want).max()
        assert err < ATOL[graph] * max(1.0, np.abs(want).max()), (graph, err)


@pytest.mark.parametrize("batch, frames, tokens", SHAPES[1:])
def test_torchscript_graphs_match_torch(tiny_model, ts_bundle, batch, frames, tokens):
    from sagasr_stream.backends.torchscript import TorchScriptBackend

    bundle = load_bundle(ts_bundle)
    assert bundle.manifest.backend == "torchscript" and set(bundle.manifest.graphs.values()) == {
        "vae_encoder.pt", "vae_decoder.pt", "dit.pt", "text_encoder.pt"}
    backend = TorchScriptBackend(bundle, provider="cpu")
    cases = _cases(tiny_model, batch, frames, tokens)
    run = {"vae_encoder": backend.encode, "vae_decoder": backend.decode, "dit": backend.velocity,
           "text_encoder": backend.encode_text}
    for graph, inputs in cases.items():
        got = run[graph](*(x.numpy() for x in inputs))
        want = _torch_ref(tiny_model, graph, inputs)
        assert got.shape == want.shape
        assert np.abs(got - want).max() < ATOL[graph] * max(1.0, np.abs(want).max()), graph


def test_torchscript_bundle_with_other_shapes_than_its_manifest_is_refused_at_load(ts_bundle, tmp_path):
    """Traced graphs declare no shapes: a TorchScript bundle whose manifest gives another text token width (or
    latent channel count, or downsampling) used to load and then fail mid-restore with a TorchScript traceback.
    Loading now runs its graphs once on zeros and names the mismatch."""
    import shutil

    from sagasr_stream.bundle import write_manifest
    from sagasr_stream.model import SagaSRModel

    copy = Path(shutil.copytree(ts_bundle, tmp_path / "b"))
    fields = json.loads((copy / "manifest.json").read_text())
    for key in ("files", "format", "format_version"):
        fields.pop(key)
    dim, channels = fields["text"]["dim"], fields["latent_channels"]
    for change, message in (({"text": {**fields["text"], "dim": dim + 8}},
                             f"do not take the manifest's shapes \\({channels} latent channels, {dim + 8}-d text"),
                            ({"latent_channels": channels * 2}, "graph 'vae_encoder' maps 4096 samples to a latent"),
                            ({"downsampling": 1024, "window_samples": 65536}, "graph 'vae_encoder' maps 2048 samples")):
        write_manifest(copy, {**fields, **change})
        with pytest.raises(BundleError, match=message):
            SagaSRModel.load(copy, allow_torchscript=True)
    write_manifest(copy, fields)
    assert SagaSRModel.load(copy, allow_torchscript=True).device == "torchscript cpu"


def test_manifest_describes_the_model(tiny_model, onnx_bundle):
    m = load_bundle(onnx_bundle).manifest
    cfg = tiny_model.config
    assert (m.sample_rate, m.window_samples, m.downsampling, m.latent_channels) == (44100, 65536, 2048, 8)
    assert m.text.dim == tiny_model.text_encoder.dim and m.text.max_tokens == cfg.text.max_tokens
    assert m.text.tokenizer == {"kind": "wordpiece", "file": "vocab.txt", "lowercase": True}
    assert m.defaults.steps == 3 and m.lr_null_value == -5.0 and m.backend == "onnx"
    assert "vocab.txt" in m.files and "dit.onnx" in m.files


def test_tampered_bundle_is_refused(onnx_bundle, tmp_path):
    import shutil

    copy = tmp_path / "b"
    shutil.copytree(onnx_bundle, copy)
    with open(copy / "dit.onnx", "r+b") as f:
        f.seek(100)
        byte = f.read(1)
        f.seek(100)
        f.write(bytes([byte[0] ^ 1]))
    with pytest.raises(BundleError, match="dit.onnx"):
        load_bundle(copy)


def test_external_data_is_listed_and_runs(tiny_model, tmp_path):
    import onnxruntime as ort

    out = tmp_path / "ext"
    manifest = export_bundle(tiny_model, out, backend="onnx", external_data=True, text_encoder=False)
    assert "dit.onnx.data" in manifest.files and "text_encoder" not in manifest.graphs
    assert manifest.text.tokenizer is None and manifest.text.encoder_name == ""  # no encoder named when none ships
    assert (out / "dit.onnx").stat().st_size < (out / "dit.onnx.data").stat().st_size
    bundle = load_bundle(out)
    inputs = _cases(tiny_model, 2, 8, 5)["dit"]
    session = ort.InferenceSession(str(bundle.path("dit")), providers=["CPUExecutionProvider"])
    got = session.run(None, {n: x.numpy() for n, x in zip(DIT_INPUTS, inputs)})[0]
    np.testing.assert_allclose(got, _torch_ref(tiny_model, "dit", inputs), atol=1e-4)
    (out / "dit.onnx.data").write_bytes(b"truncated")
    with pytest.raises(BundleError, match="dit.onnx.data"):
        load_bundle(out)


def test_fp16_graphs_keep_float32_io(tiny_model, tmp_path):
    pytest.importorskip("onnx")
    import onnx

    out = tmp_path / "fp16"
    export_bundle(tiny_model, out, backend="onnx", fp16=True, text_encoder=False)
    graph = onnx.load(str(out / "dit.onnx"))
    assert all(i.type.tensor_type.elem_type == onnx.TensorProto.FLOAT for i in graph.graph.input)
    assert graph.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert any(t.data_type == onnx.TensorProto.FLOAT16 for t in graph.graph.initializer)


def test_fp16_onnx_bundle_loads_and_is_close_to_fp32(tiny_model, tmp_path):
    """``fp16=True`` with ONNX: the bundle loads in the runtime and computes the model (float16 weights, within
    3e-2 of its peak, as the TorchScript fp16 bundle). Its rotary embedding used to hold float16 frequencies next
    to float32 positions: an Einsum of mixed types that ONNX Runtime refused to load."""
    from sagasr_stream.backends.onnx import OnnxBackend

    export_bundle(tiny_model, tmp_path / "h", backend="onnx", fp16=True, text_encoder=False)
    backend = OnnxBackend(load_bundle(tmp_path / "h"), provider="cpu")
    cases = _cases(tiny_model, 2, 8, 12)
    for graph, run in (("vae_encoder", backend.encode), ("vae_decoder", backend.decode), ("dit", backend.velocity)):
        got = run(*(x.numpy() for x in cases[graph]))
        want = _torch_ref(tiny_model, graph, cases[graph])
        assert got.dtype == np.float32 and got.shape == want.shape
        assert np.abs(got - want).max() < 3e-2 * np.abs(want).max(), graph


def test_cli_exports_a_zip(tmp_path, capsys):
    out = tmp_path / "tiny.zip"
    assert cli_main(["--random-config", "tiny", "-o", str(out), "--steps", "7", "--no-text-encoder",
                     "--overlap-fraction", "0.5", "--band-ceiling-db", "10", "--sbr-blend", "0.25",
                     "--sbr-level-db", "9", "--band-smoothing-octaves", "0.1667", "--band-smoothing-iterations",
                     "8", "--band-transients", "0.3"]) == 0
    bundle = load_bundle(out)
    assert bundle.manifest.defaults.steps == 7 and not (tmp_path / "tiny").exists()
    assert bundle.manifest.defaults.overlap_fraction == 0.5 and bundle.manifest.defaults.band_ceiling_db == 10.0
    assert bundle.manifest.defaults.sbr_blend == 0.25 and bundle.manifest.defaults.sbr_level_db == 9.0
    assert bundle.manifest.defaults.band_smoothing_octaves == 0.1667
    assert bundle.manifest.defaults.band_smoothing_iterations == 8
    assert bundle.manifest.defaults.band_transients == 0.3
    assert cli_main(["--random-config", "tiny", "-o", str(tmp_path / "x"), "--band-ceiling-db", "-3"]) == 2
    assert "--band-ceiling-db must be a level in dB >= 0" in capsys.readouterr().err
    assert cli_main(["--random-config", "tiny", "-o", str(tmp_path / "x"), "--sbr-blend", "1.5"]) == 2
    assert "--sbr-blend must be a share in [0, 1], got 1.5" in capsys.readouterr().err
    assert cli_main(["--random-config", "tiny", "-o", str(tmp_path / "x"), "--band-transients", "-0.5"]) == 2
    assert "--band-transients must be a share in [0, 1], got -0.5" in capsys.readouterr().err
    assert cli_main(["--random-config", "tiny", "-o", str(tmp_path / "x"), "--sbr-level-db", "-1"]) == 2
    assert "--sbr-level-db must be a level in dB >= 0, got -1.0" in capsys.readouterr().err
    assert cli_main(["--random-config", "tiny", "-o", str(tmp_path / "x"), "--band-smoothing-octaves", "0"]) == 2
    assert "--band-smoothing-octaves must be a width in octaves in (0, 2], got 0.0" in capsys.readouterr().err
    assert cli_main(["--random-config", "tiny", "-o", str(tmp_path / "x"), "--band-smoothing-octaves", "0.2",
                     "--band-smoothing-iterations", "-1"]) == 2
    assert "--band-smoothing-iterations must be an integer in [0, 100], got -1" in capsys.readouterr().err
    assert cli_main(["--random-config", "tiny", "-o", str(tmp_path / "x"), "--band-smoothing-iterations", "4"]) == 2
    assert "--band-smoothing-iterations needs --band-smoothing-octaves" in capsys.readouterr().err
    assert cli_main(["--random-config", "tiny", "-o", str(out)]) == 2  # exists, no --overwrite
    assert json.loads((bundle.root / "manifest.json").read_text())["provenance"]["exporter"] == "sagasr_export"


def test_cli_zip_leaves_a_folder_of_the_same_name_alone(tmp_path):
    """``-o bundle.zip`` builds its archive in a folder of its own: a folder ``bundle/`` beside it (the user's)
    neither blocks the export nor is deleted by ``--overwrite``."""
    mine = tmp_path / "bundle"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    out = tmp_path / "bundle.zip"
    assert cli_main(["--random-config", "tiny", "-o", str(out), "--no-text-encoder"]) == 0
    assert cli_main(["--random-config", "tiny", "-o", str(out), "--no-text-encoder", "--overwrite"]) == 0
    assert load_bundle(out).manifest.graphs and (mine / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle", "bundle.zip"]


def test_bad_configs_weights_and_defaults_are_clear_errors_that_leave_no_bundle(tiny_model, tmp_path, capsys):
    """A config or checkpoint that cannot be read, or a default the runtime would refuse, gives one line
    naming it (exit code 2), before anything is exported: no partial bundle folder is left behind."""
    from sagasr_export.model.checkpoint import save_checkpoint

    out = tmp_path / "x"
    assert cli_main(["--random-config", "nope", "-o", str(out)]) == 2
    assert "--random-config nope: ValueError: no shipped config 'nope'" in capsys.readouterr().err
    (tmp_path / "bad.json").write_text("{bad")
    assert cli_main(["--random-config", str(tmp_path / "bad.json"), "-o", str(out)]) == 2
    assert "bad.json: JSONDecodeError" in capsys.readouterr().err
    assert cli_main([str(tmp_path / "none"), "-o", str(out)]) == 2
    assert "none: missing model.safetensors" in capsys.readouterr().err
    save_checkpoint(tiny_model, tmp_path / "ckpt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "ckpt" / "model.safetensors")  # a pickle: never loaded
    assert cli_main([str(tmp_path / "ckpt"), "-o", str(out)]) == 2
    assert "SafetensorError" in capsys.readouterr().err
    for flag, message in ((["--steps", "0"], "defaults.steps must be an integer in 1..1000, got 0"),
                          (["--steps", "5000"], "defaults.steps must be an integer in 1..1000, got 5000"),
                          (["--caption", "piano", "--no-text-encoder"], "a default caption needs the text encoder"),
                          (["--overlap-fraction", "0.9"], "defaults.overlap_fraction must be in [0, 0.5], got 0.9"),
                          (["--cfg-acoustic", "-1"], "defaults.cfg_acoustic must be a number in [0, 20], got -1.0"),
                          (["--auto-rolloff-fraction", "2"], "auto_rolloff_fraction must be a share in [0, 1]"),
                          (["--target-rolloff-hz", "model"], "'model' needs rolloff_unknown_trained"),
                          (["--target-rolloff-hz", "30000"], "30000 Hz is above the model's Nyquist frequency")):
        assert cli_main(["--random-config", "tiny", "-o", str(out), "--save-checkpoint", str(tmp_path / "c2"),
                         *flag]) == 2
        assert message in capsys.readouterr().err
    # no bundle, no partial folder, no checkpoint of a run that stopped
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.json", "ckpt"]


def test_save_checkpoint_refuses_an_existing_folder_and_writes_only_after_the_export(tiny_model, tmp_path, capsys):
    """``--save-checkpoint`` used to overwrite an existing checkpoint folder without --overwrite, and before the
    export, so an export then refused (--store-fp16 with TorchScript) still replaced it."""
    from sagasr_export.model.checkpoint import save_checkpoint

    ckpt = save_checkpoint(tiny_model, tmp_path / "ckpt")
    before = {p.name: p.read_bytes() for p in ckpt.iterdir()}
    base = ["--random-config", "tiny", "--seed", "3", "--save-checkpoint", str(ckpt), "--no-text-encoder"]
    assert cli_main(base + ["-o", str(tmp_path / "b1")]) == 2
    assert f"--save-checkpoint {ckpt} exists (use --overwrite)" in capsys.readouterr().err
    assert cli_main(base + ["-o", str(tmp_path / "b2"), "--overwrite", "--backend", "torchscript", "--store-fp16"]) == 2
    assert {p.name: p.read_bytes() for p in ckpt.iterdir()} == before
    assert not (tmp_path / "b1").exists() and not (tmp_path / "b2").exists()


def test_a_failed_overwrite_keeps_the_old_bundle(tiny_model, onnx_bundle, tmp_path, monkeypatch):
    """``overwrite=True`` replaces a bundle only once the new one is complete: an export that fails on the way
    leaves the old bundle as it was, and no partial folder."""
    import shutil

    from sagasr_export import exporter

    out = tmp_path / "b"
    shutil.copytree(onnx_bundle, out)

    def fail(*args, **kwargs):
        raise RuntimeError("interrupted")

    monkeypatch.setattr(exporter, "optimize_graphs", fail)
    with pytest.raises(RuntimeError, match="interrupted"):
        export_bundle(tiny_model, out, text_encoder=False, overwrite=True)
    assert load_bundle(out).manifest.files == load_bundle(onnx_bundle).manifest.files
    assert [p.name for p in tmp_path.iterdir()] == ["b"]


def test_cli_exports_a_checkpoint_folder(tiny_model, tmp_path):
    from sagasr_export.model.checkpoint import save_checkpoint

    save_checkpoint(tiny_model, tmp_path / "ckpt")
    out = tmp_path / "bundle_ts"
    assert cli_main([str(tmp_path / "ckpt"), "-o", str(out), "--backend", "torchscript", "--cfg-text", "2.0"]) == 0
    bundle = load_bundle(out)
    assert bundle.manifest.backend == "torchscript" and bundle.manifest.defaults.cfg_text == 2.0
    from sagasr_stream.backends.torchscript import TorchScriptBackend

    inputs = _cases(tiny_model, 2, 8, 12)["dit"]
    got = TorchScriptBackend(bundle, provider="cpu").velocity(*(x.numpy() for x in inputs))
    np.testing.assert_allclose(got, _torch_ref(tiny_model, "dit", inputs), atol=1e-5)


def test_fp16_torchscript_is_close_to_fp32(tiny_model, tmp_path):
    """fp16 weights (meant for CUDA) still compute the same model: float32 in/out, ~1e-2 relative error."""
    from sagasr_stream.backends.torchscript import TorchScriptBackend

    export_bundle(tiny_model, tmp_path / "h", backend="torchscript", fp16=True, text_encoder=False)
    backend = TorchScriptBackend(load_bundle(tmp_path / "h"), provider="cpu")
    cases = _cases(tiny_model, 2, 8, 12)
    got = backend.velocity(*(x.numpy() for x in cases["dit"]))
    want = _torch_ref(tiny_model, "dit", cases["dit"])
    assert got.dtype == np.float32
    assert np.abs(got - want).max() < 3e-2 * np.abs(want).max()
    lat = backend.encode(cases["vae_encoder"][0].numpy())
    want_lat = _torch_ref(tiny_model, "vae_encoder", cases["vae_encoder"])
    assert np.abs(lat - want_lat).max() < 3e-2 * np.abs(want_lat).max()


def test_export_runs_with_flash_attention_off(tiny_model, tmp_path, monkeypatch):
    """SAT uses flash-attn (fp16, not exportable) whenever it is importable: the exporter switches it off while
    tracing and puts it back afterwards."""
    from stable_audio_tools.models import transformer as sat_transformer

    from sagasr_export.exporter import flash_attention_off
    from sagasr_stream.backends.torchscript import TorchScriptBackend

    def flash(*args, **kwargs):
        raise AssertionError("flash-attn was called while exporting")

    monkeypatch.setattr(sat_transformer, "flash_attn_func", flash)
    export_bundle(tiny_model, tmp_path / "b", backend="torchscript", text_encoder=False)
    assert sat_transformer.flash_attn_func is flash  # restored
    inputs = _cases(tiny_model, 2, 8, 12)["dit"]
    got = TorchScriptBackend(load_bundle(tmp_path / "b"), provider="cpu").velocity(*(x.numpy() for x in inputs))
    with flash_attention_off():
        want = _torch_ref(tiny_model, "dit", inputs)
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_cli_loads_stable_audio_open_weights_and_saves_a_checkpoint(tiny_model, tmp_path, capsys):
    """``sagasr export --random-config tiny --stable-audio-open FILE --save-checkpoint DIR``: a file in Stable Audio
    Open's key layout (here made from the test model) replaces the random VAE, DiT and roll-off weights."""
    from safetensors.torch import save_file

    from sagasr_export.model.checkpoint import SAO_PREFIXES, load_checkpoint

    ours_to_sao = [(ours, sao) for sao, ours in SAO_PREFIXES]
    state = {}
    for k, v in tiny_model.state_dict().items():
        for ours, sao in ours_to_sao:
            if k.startswith(ours):
                state[sao + k[len(ours):]] = v.contiguous()
    save_file(state, str(tmp_path / "sao.safetensors"))
    argv = ["--random-config", "tiny", "--seed", "5", "--stable-audio-open", str(tmp_path / "sao.safetensors"),
            "--save-checkpoint", str(tmp_path / "ckpt"), "-o", str(tmp_path / "bundle"), "--no-text-encoder"]
    assert cli_main(argv) == 0
    assert "Stable Audio Open weights: " in capsys.readouterr().out
    loaded = load_checkpoint(tmp_path / "ckpt")
    inputs = list(_cases(tiny_model, 2, 8, 12)["dit"])
    inputs[5] = torch.zeros(2)  # cross_keep 0: the text projection (not in SAO) plays no part
    with torch.no_grad():
        torch.testing.assert_close(loaded.velocity(*inputs), tiny_model.velocity(*inputs))
    (tmp_path / "bad.safetensors").write_bytes(b"not safetensors")
    argv[5] = str(tmp_path / "bad.safetensors")
    assert cli_main(argv[:6] + ["-o", str(tmp_path / "b2")]) == 2
    assert "bad.safetensors" in capsys.readouterr().err


def test_int8_text_encoder_is_smaller_and_close(tmp_path):
    """The packaged MiniLM (the small/default model's text encoder): int8 embedding tables make the graph at
    least a third smaller and its tokens stay within a few percent of the float32 graph's."""
    from sagasr_stream.model import SagaSRModel

    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = build_model(named_config("small")).eval()
    export_bundle(model, tmp_path / "fp32", backend="onnx")
    manifest = export_bundle(model, tmp_path / "int8", backend="onnx", quantize_text=True)
    out = tmp_path / "int8"
    assert manifest.graphs["text_encoder"] == "text_encoder.int8.onnx" and not (out / "text_encoder.onnx").exists()
    assert set(manifest.files) == {p.name for p in out.iterdir() if p.name != "manifest.json"}  # all hashed
    assert (out / "text_encoder.int8.onnx").stat().st_size < (tmp_path / "fp32" / "text_encoder.onnx").stat().st_size * 2 / 3
    captions = ("solo piano, slow", "drum kit groove at 120 bpm")
    want = np.concatenate([SagaSRModel.load(tmp_path / "fp32").text_tokens(c) for c in captions])
    got = np.concatenate([SagaSRModel.load(out).text_tokens(c) for c in captions])
    assert got.shape == want.shape
    rel = np.linalg.norm(got - want) / np.linalg.norm(want)
    assert rel < 0.05, rel
    with pytest.raises(ValueError, match="quantize_text needs"):
        export_bundle(model, tmp_path / "ts", backend="torchscript", quantize_text=True)


def test_fp16_weight_storage_halves_the_bundle_and_computes_in_float32(tiny_model, onnx_bundle, tmp_path):
    """``store_fp16``: float16 weights on disk, float32 inputs/outputs and arithmetic, results within the
    weights' rounding of the float32 bundle."""
    import onnx
    import onnxruntime as ort

    manifest = export_bundle(tiny_model, tmp_path / "half", backend="onnx", defaults={"steps": 3}, store_fp16=True)
    assert manifest.provenance["weights_fp16"] is True
    half, full = load_bundle(tmp_path / "half"), load_bundle(onnx_bundle)
    sizes = [sum(b.path(g).stat().st_size for g in b.manifest.graphs) for b in (half, full)]
    assert sizes[0] < 0.75 * sizes[1], sizes  # the tiny model has many small (kept) tensors; default model: 0.57
    moved = []
    for graph, inputs in _cases(tiny_model, 2, 16, 7).items():
        runs = []
        for b in (half, full):
            session = ort.InferenceSession(str(b.path(graph)), providers=["CPUExecutionProvider"])
            assert all(o.type == "tensor(float)" for o in session.get_outputs())
            runs.append(session.run(None, {i.name: x.numpy() for i, x in zip(session.get_inputs(), inputs)})[0])
        rel = np.linalg.norm(runs[0] - runs[1]) / np.linalg.norm(runs[1])
        assert rel < 5e-3, (graph, rel)
        if any(t.data_type == onnx.TensorProto.FLOAT16 for t in onnx.load(str(half.path(graph))).graph.initializer):
            moved.append(rel > 0)
    assert moved and all(moved)  # the rounding reaches the results of every graph stored in float16
    with pytest.raises(ValueError, match="store_fp16 needs"):
        export_bundle(tiny_model, tmp_path / "ts", backend="torchscript", store_fp16=True)


def test_int8_dit_is_smaller_and_close_and_restores(tiny_model, onnx_bundle, tmp_path):
    """``quantize_dit``: the DiT's weight MatMuls as dynamic int8, its velocity near the float32 graph's (this
    tiny random DiT: ~9 %; the default model's trained one: ~2 %, LSD +0.001-0.004, benchmarks/speed_results.md),
    and the bundle restores audio like any other."""
    import onnx
    import onnxruntime as ort

    from sagasr_stream import RestoreSettings, SagaSRModel, restore
    from tests.conftest import band_limited_noise

    manifest = export_bundle(tiny_model, tmp_path / "q", backend="onnx", quantize_dit=True, defaults={"steps": 2})
    quantized, full = load_bundle(tmp_path / "q"), load_bundle(onnx_bundle)
    assert manifest.graphs["dit"] == "dit.int8.onnx" and manifest.provenance["dit_int8"] is True
    assert set(manifest.files) == {p.name for p in (tmp_path / "q").iterdir() if p.name != "manifest.json"}
    ops = {n.op_type for n in onnx.load(str(quantized.path("dit"))).graph.node}
    assert ops & {"DynamicQuantizeMatMul", "MatMulInteger"}, sorted(ops)
    inputs = _cases(tiny_model, 3, 16, 7)["dit"]
    runs = []
    for b in (quantized, full):
        session = ort.InferenceSession(str(b.path("dit")), providers=["CPUExecutionProvider"])
        runs.append(session.run(None, {i.name: x.numpy() for i, x in zip(session.get_inputs(), inputs)})[0])
    rel = np.linalg.norm(runs[0] - runs[1]) / np.linalg.norm(runs[1])
    assert 0 < rel < 0.15, rel
    audio = band_limited_noise(30000)
    out = restore(audio, 44100, SagaSRModel.load(tmp_path / "q"), RestoreSettings(seed=1))
    assert out.shape == audio.shape and np.isfinite(out).all()
    for kwargs in ({"backend": "torchscript"}, {"fp16": True}):
        with pytest.raises(ValueError, match="quantize_dit needs"):
            export_bundle(tiny_model, tmp_path / "bad", quantize_dit=True, **kwargs)


def test_exported_graphs_follow_the_runtime_graph_table(onnx_bundle):
    """Names, order, dtypes and dynamic axes of every exported graph are those of ``sagasr_stream.graphs``."""
    from tests.runtime.test_graphs import check_graph_file

    bundle = load_bundle(onnx_bundle)
    sizes = {"channels": bundle.manifest.latent_channels, "text_dim": bundle.manifest.text.dim}
    assert set(bundle.manifest.graphs) == {"vae_encoder", "vae_decoder", "dit", "text_encoder"}
    for graph in bundle.manifest.graphs:
        check_graph_file(bundle.path(graph), graph, sizes, symbolic_outputs=True)


def test_export_without_torch_says_what_to_install(tmp_path, capsys, monkeypatch):
    """`pip install .` installs `sagasr export` but not torch: the command names what to run, no traceback."""
    import sys

    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` fail
    assert cli_main(["--random-config", "tiny", "-o", str(tmp_path / "bundle")]) == 2
    err = capsys.readouterr().err
    assert "bash export/install.sh" in err and "missing: torch" in err
    assert not (tmp_path / "bundle").exists()


def test_repeat_text_padding_is_in_the_exported_dit(tmp_path):
    """A model with text.padding "repeat" exports a DiT graph that repeats a caption's tokens over the zero
    padding itself (the runtime passes zero-padded tokens), matching torch at another token count than export's."""
    import onnxruntime as ort

    from sagasr_export.model import load_config

    from .conftest import randomize

    data = json.loads(json.dumps(named_config("tiny").to_dict()))
    data["text"]["padding"] = "repeat"
    torch.manual_seed(1)
    model = randomize(build_model(load_config(data))).eval()
    out = tmp_path / "repeat"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        export_bundle(model, out, backend="onnx")
    inputs = list(_cases(model, 3, 8, 12)["dit"])
    inputs[4][:, 5:] = 0  # a five-token caption, zero-padded as the runtime gives it
    inputs[5] = torch.ones(3)
    session = ort.InferenceSession(str(load_bundle(out).path("dit")), providers=["CPUExecutionProvider"])
    got = session.run(None, {n: x.numpy() for n, x in zip(DIT_INPUTS, inputs)})[0]
    want = _torch_ref(model, "dit", inputs)
    assert np.abs(got - want).max() < ATOL["dit"] * max(1.0, np.abs(want).max())
    zero = build_model(named_config("tiny")).eval()  # the same weights, padding left zero: another condition
    zero.load_state_dict(model.state_dict())
    assert np.abs(_torch_ref(zero, "dit", inputs) - got).max() > 1e-3
