import json
import re
import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest

from sagasr_stream import BundleError, SagaSRModel, load_bundle
from sagasr_stream.bundle import archive_bundle, write_manifest
from sagasr_stream.testing import build_tiny_bundle


@pytest.fixture
def bundle_copy(tiny_bundle, tmp_path) -> Path:
    return Path(shutil.copytree(tiny_bundle, tmp_path / "b"))


def test_loads_and_reports_its_provider(tiny_bundle):
    model = SagaSRModel.load(tiny_bundle, provider="cpu")
    assert model.device == "onnxruntime CPUExecutionProvider"
    assert model.manifest.latent_frames == 32
    assert model.text_tokens("warm piano").shape == (1, 8, 16)


def test_missing_file_is_named(bundle_copy):
    (bundle_copy / "dit.onnx").unlink()
    with pytest.raises(BundleError, match="missing: .*dit.onnx"):
        load_bundle(bundle_copy)


def test_truncated_or_tampered_file_fails_its_hash(bundle_copy):
    data = (bundle_copy / "vae_decoder.onnx").read_bytes()
    (bundle_copy / "vae_decoder.onnx").write_bytes(data[: len(data) // 2])
    with pytest.raises(BundleError, match="vae_decoder.onnx failed its SHA-256"):
        load_bundle(bundle_copy)


def test_manifest_errors_name_the_field(bundle_copy):
    path = bundle_copy / "manifest.json"
    good = json.loads(path.read_text())
    for change, message in [
        ({"format_version": 99}, "format_version 99 .* newer sagasr_stream: upgrade"),
        ({"format_version": 0}, "format_version 0 .* export the bundle again"),
        ({"window_samples": 1000}, "not a multiple"),
        ({"format": "other"}, "not a sagasr bundle"),
        ({"backend": "tensorflow"}, "backend"),
        ({"graphs": {"vae_encoder": "vae_encoder.onnx"}}, "'vae_decoder' is missing"),
    ]:
        path.write_text(json.dumps({**good, **change}))
        with pytest.raises(BundleError, match=message):
            load_bundle(bundle_copy)
    path.write_text("{not json")
    with pytest.raises(BundleError, match="invalid JSON"):
        load_bundle(bundle_copy)
    path.write_text(json.dumps({k: v for k, v in good.items() if k != "latent_channels"}))
    with pytest.raises(BundleError, match="missing field.*latent_channels"):
        load_bundle(bundle_copy)


def test_wrong_typed_or_unknown_manifest_fields_are_named(bundle_copy):
    """A field of the wrong type, an unknown field in ``text``/``defaults`` or a missing ``text.dim`` gives one
    BundleError naming it (not a TypeError from deep inside, nor a bundle that fails later, mid-restore)."""
    path = bundle_copy / "manifest.json"
    good = json.loads(path.read_text())
    text, defaults = good["text"], good["defaults"]
    for change, message in [
        ({"text": {**text, "colour": "red"}}, "unknown field.*text.colour"),
        ({"text": {k: v for k, v in text.items() if k != "dim"}}, "missing field.*text.dim"),
        ({"text": {**text, "max_tokens": "8"}}, "text.max_tokens must be an integer, got '8'"),
        ({"text": {**text, "tokenizer": "vocab.txt"}}, "text.tokenizer must be an object or null"),
        ({"defaults": {**defaults, "colour": "red"}}, "unknown field.*defaults.colour"),
        ({"defaults": None}, "'defaults' must be an object"),
        ({"defaults": {**defaults, "steps": "5"}}, "defaults.steps must be an integer, got '5'"),
        ({"defaults": {**defaults, "cfg_acoustic": "x"}}, "defaults.cfg_acoustic must be a number"),
        ({"defaults": {**defaults, "cfg_text": 25.0}}, r"defaults.cfg_text must be a number in \[0, 20\], got 25.0"),
        ({"defaults": {**defaults, "auto_rolloff_fraction": 2.0}}, "defaults.auto_rolloff_fraction must be a share"),
        ({"defaults": {**defaults, "rolloff_unknown_trained": "no"}}, "defaults.rolloff_unknown_trained must be"),
        ({"input_peak": "x"}, "input_peak must be a number"),
        ({"sample_rate": True}, "sample_rate must be an integer"),
        ({"files": None}, "files must be an object"),
        ({"files": {**good["files"], "dit.onnx": 5}}, "files.dit.onnx must be a string"),
        ({"graphs": ["dit.onnx"]}, "graphs must be an object"),
    ]:
        path.write_text(json.dumps({**good, **change}))
        with pytest.raises(BundleError, match=message):
            SagaSRModel.load(bundle_copy)


def test_manifest_values_the_runtime_cannot_use_are_named_at_load(bundle_copy):
    """Values of the right type that no restoration can use are refused when the bundle is loaded, naming the
    field: not a deep numpy error, an error blaming the input or a setting the user never gave, nor a silently
    wrong result, at every restore. (A default caption without a text encoder, or more default steps than the
    runtime allows, made every restore with the bundle's defaults fail; input_peak 0 gave NaN audio blamed on
    the input; text.max_tokens 0 a broadcasting ValueError.)"""
    path = bundle_copy / "manifest.json"
    good = json.loads(path.read_text())
    text, defaults = good["text"], good["defaults"]
    no_text = build_tiny_bundle(bundle_copy.parent / "no_text", with_text=False)
    for folder, change, message in [
        (bundle_copy, {"defaults": {**defaults, "steps": 5000}}, r"defaults.steps must be an integer in 1..1000, got 5000"),
        (bundle_copy, {"input_peak": 0.0}, "input_peak must be a level > 0, got 0.0"),
        (bundle_copy, {"input_peak": -0.5}, "input_peak must be a level > 0, got -0.5"),
        (bundle_copy, {"input_peak": float("nan")}, "input_peak must be a level > 0, got nan"),
        (bundle_copy, {"lr_null_value": float("inf")}, "lr_null_value must be a finite number, got inf"),
        (bundle_copy, {"text": {**text, "max_tokens": 0}}, "text.max_tokens must be a positive integer, got 0"),
        (bundle_copy, {"text": {**text, "dim": -16}}, "text.dim must be a positive integer, got -16"),
        (no_text, {"defaults": {**json.loads((no_text / "manifest.json").read_text())["defaults"], "caption": "piano"}},
         "defaults.caption 'piano' needs the 'text_encoder' graph"),
    ]:
        manifest = folder / "manifest.json"
        original = manifest.read_text()
        manifest.write_text(json.dumps({**json.loads(original), **change}))
        with pytest.raises(BundleError, match=message):
            SagaSRModel.load(folder)
        manifest.write_text(original)
        SagaSRModel.load(folder)


def test_shape_mismatch_between_manifest_and_graphs_is_caught(bundle_copy):
    fields = json.loads((bundle_copy / "manifest.json").read_text())
    fields.pop("files"), fields.pop("format"), fields.pop("format_version")
    fields["latent_channels"] = 12
    write_manifest(bundle_copy, fields)  # consistent hashes, wrong shape
    with pytest.raises(BundleError, match="8 channels; the manifest says 12"):
        SagaSRModel.load(bundle_copy)
    fields["latent_channels"] = 8
    fields["text"]["dim"] = 32
    write_manifest(bundle_copy, fields)
    with pytest.raises(BundleError, match="16-d text tokens; the manifest says text.dim 32"):
        SagaSRModel.load(bundle_copy)


def test_a_downsampling_the_vae_graphs_do_not_have_is_caught(bundle_copy):
    """The VAE's downsampling has dynamic lengths in its graphs: a manifest that states another one used to load
    and restore without an error (the windows' noise placed by the wrong hop). Loading now runs both VAE halves on
    two latent frames of silence and names the mismatch."""
    fields = json.loads((bundle_copy / "manifest.json").read_text())
    fields.pop("files"), fields.pop("format"), fields.pop("format_version")
    for downsampling, latent in ((512, r"\(8, 4\)"), (128, r"\(8, 1\)")):
        fields["downsampling"] = downsampling
        write_manifest(bundle_copy, fields)
        with pytest.raises(BundleError, match=f"graph 'vae_encoder' maps {2 * downsampling} samples to a latent of "
                                              f"shape {latent}; the manifest's downsampling {downsampling}"):
            SagaSRModel.load(bundle_copy)


def test_not_a_bundle(tmp_path):
    with pytest.raises(BundleError, match="not found"):
        load_bundle(tmp_path / "nope")
    with pytest.raises(BundleError, match="no manifest.json"):
        load_bundle(tmp_path)


def test_zip_archive_round_trip(tiny_bundle, tmp_path):
    archive = archive_bundle(tiny_bundle, tmp_path / "model.zip")
    model = SagaSRModel.load(archive)
    assert model.manifest.name == "tiny-random"


def test_archives_cannot_write_outside_their_folder(tmp_path):
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../escaped.txt", "x")
    with pytest.raises(BundleError, match="outside the bundle"):
        load_bundle(evil)
    assert not (tmp_path.parent / "escaped.txt").exists()

    linked = tmp_path / "link.tar"
    with tarfile.open(linked, "w") as tf:
        info = tarfile.TarInfo("manifest.json")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        tf.addfile(info)
    with pytest.raises(BundleError, match="link"):
        load_bundle(linked)


def test_bundle_without_text_rejects_captions(tmp_path):
    from sagasr_stream import RestoreSettings, restore
    import numpy as np

    model = SagaSRModel.load(build_tiny_bundle(tmp_path / "notext", with_text=False))
    assert "text_encoder" not in model.manifest.graphs and model.tokenizer is None
    restore(np.zeros(100, np.float32) + 0.1, 44100, model)
    with pytest.raises(ValueError, match="no text encoder"):
        restore(np.zeros(100, np.float32), 44100, model, RestoreSettings(caption="piano"))


def test_missing_default_model_is_explained(monkeypatch, tmp_path):
    import sagasr_stream.model as model_module

    monkeypatch.delenv("SAGASR_MODEL", raising=False)
    monkeypatch.setattr(model_module, "DEFAULT_BUNDLE_DIR", tmp_path / "none")
    with pytest.raises(BundleError, match="no embedded default model"):
        SagaSRModel.load()


def test_a_missing_bundle_named_by_sagasr_model_names_the_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("SAGASR_MODEL", str(tmp_path / "gone"))
    with pytest.raises(BundleError, match="gone .from the SAGASR_MODEL environment variable"):
        SagaSRModel.load()


def test_cuda_request_without_cuda_is_a_clear_error(tiny_bundle):
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this machine has CUDA; the error path cannot be exercised")
    with pytest.raises(RuntimeError, match="no CUDAExecutionProvider"):
        SagaSRModel.load(tiny_bundle, provider="cuda")


def test_same_length_tampering_and_a_missing_tokenizer_file_are_caught(bundle_copy):
    path = bundle_copy / "dit.onnx"
    original = path.read_bytes()
    data = bytearray(original)
    data[len(data) // 2] ^= 0x01  # one bit, same size
    path.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="dit.onnx failed its SHA-256"):
        load_bundle(bundle_copy)
    path.write_bytes(original)
    load_bundle(bundle_copy)
    (bundle_copy / "vocab.txt").unlink()
    with pytest.raises(BundleError, match="missing: .*vocab.txt"):
        load_bundle(bundle_copy)


def test_damaged_archives_get_a_bundle_error(tiny_bundle, tmp_path):
    archive = archive_bundle(tiny_bundle, tmp_path / "model.zip")
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo("dit.onnx")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)  # compressed member data
    for i in range(start, start + 64):
        data[i] ^= 0xFF
    tampered = tmp_path / "tampered.zip"
    tampered.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="tampered.zip"):
        load_bundle(tampered)
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(archive.read_bytes()[: len(data) // 2])
    with pytest.raises(BundleError, match="truncated"):
        load_bundle(truncated)
    tar = tmp_path / "model.tar.gz"
    with tarfile.open(tar, "w:gz") as tf:
        tf.add(tiny_bundle, arcname="bundle")
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(tar.read_bytes()[: tar.stat().st_size // 2])
    with pytest.raises(BundleError, match="cut.tar.gz"):
        load_bundle(cut)
    assert SagaSRModel.load(tar).manifest.name == "tiny-random"


def test_an_unlisted_file_is_refused(bundle_copy):
    (bundle_copy / "dit.onnx.data").write_bytes(b"\x00" * 64)  # e.g. ONNX external data the manifest omits
    with pytest.raises(BundleError, match="does not list.*dit.onnx.data"):
        load_bundle(bundle_copy)


def test_the_tokenizer_file_must_be_listed(bundle_copy):
    data = json.loads((bundle_copy / "manifest.json").read_text())
    tokenizer = data["text"]["tokenizer"]["file"]
    del data["files"][tokenizer]
    (bundle_copy / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(BundleError, match="tokenizer file"):
        load_bundle(bundle_copy)


def test_archive_limits(tiny_bundle, tmp_path, monkeypatch):
    import sagasr_stream.bundle as bundle_module

    archive = archive_bundle(tiny_bundle, tmp_path / "b.zip")
    monkeypatch.setattr(bundle_module, "_extracted", {})  # not from the cache of an earlier test
    monkeypatch.setattr(bundle_module, "MAX_ARCHIVE_BYTES", 1000)
    with pytest.raises(BundleError, match="more than 1000 bytes"):
        load_bundle(archive)
    monkeypatch.setattr(bundle_module, "MAX_ARCHIVE_BYTES", 8 << 30)
    monkeypatch.setattr(bundle_module, "MAX_ARCHIVE_MEMBERS", 2)
    with pytest.raises(BundleError, match="more than 2 members"):
        load_bundle(archive)


def test_a_replaced_archive_is_not_served_from_the_cache(tiny_bundle, tmp_path):
    from sagasr_stream.testing import build_tiny_bundle

    archive = tmp_path / "model.zip"
    archive_bundle(tiny_bundle, archive)
    first = load_bundle(archive)
    other = build_tiny_bundle(tmp_path / "other", seed=5)
    archive_bundle(other, archive)  # same path, new content
    second = load_bundle(archive)
    assert second.root != first.root
    assert second.manifest.files == load_bundle(other).manifest.files


def test_torchscript_bundles_need_an_explicit_opt_in(tmp_path):
    from sagasr_stream.bundle import write_manifest
    from sagasr_stream.model import SagaSRModel

    folder = tmp_path / "ts"
    folder.mkdir()
    for name in ("enc.pt", "dec.pt", "dit.pt"):
        (folder / name).write_bytes(b"not really torchscript")
    write_manifest(folder, dict(
        name="ts", sample_rate=44100, window_samples=8192, downsampling=256, latent_channels=8,
        graphs={"vae_encoder": "enc.pt", "vae_decoder": "dec.pt", "dit": "dit.pt"},
        text={"dim": 16, "max_tokens": 8}, backend="torchscript",
    ))
    with pytest.raises(BundleError, match="allow_torchscript=True"):
        SagaSRModel.load(folder)


def test_a_graph_that_outputs_nan_is_named(tiny_bundle, tmp_path):
    import shutil

    import onnx
    from onnx import TensorProto, helper

    from sagasr_stream import restore
    from sagasr_stream.bundle import write_manifest
    from sagasr_stream.model import SagaSRModel
    from tests.conftest import band_limited_noise

    folder = tmp_path / "nan"
    shutil.copytree(tiny_bundle, folder)
    decoder = onnx.load(str(folder / "vae_decoder.onnx"))
    graph = decoder.graph
    graph.output[0].name = "audio_raw"
    for node in graph.node:
        node.output[:] = ["audio_raw" if o == "audio" else o for o in node.output]
    graph.initializer.append(helper.make_tensor("nan", TensorProto.FLOAT, [], [float("nan")]))
    graph.node.append(helper.make_node("Mul", ["audio_raw", "nan"], ["audio"]))
    graph.output[0].name = "audio"
    onnx.save(decoder, str(folder / "vae_decoder.onnx"))
    data = json.loads((folder / "manifest.json").read_text())
    write_manifest(folder, {k: v for k, v in data.items() if k not in ("files", "format", "format_version")})
    model = SagaSRModel.load(folder)
    with pytest.raises(BundleError, match="'vae_decoder'.*non-finite"):
        restore(band_limited_noise(20000), 44100, model)


def damaged_copy(bundle, folder, damage):
    """A copy of ``bundle`` in ``folder`` with one defect: ``damage`` is applied to it."""
    copy = Path(shutil.copytree(bundle, folder))
    damage(copy)
    return copy


def test_errors_in_an_archive_name_the_archive_not_the_folder_it_was_extracted_to(tiny_bundle, tmp_path):
    """A tampered, incomplete or overfull .zip said "bundle file /tmp/sagasr-bundle-x7q/vocab.txt failed its SHA-256
    check": a temporary folder the user never made, gone when the process ends."""
    def vocabulary(copy):
        fields = json.loads((copy / "manifest.json").read_text())
        fields.pop("files"), fields.pop("format"), fields.pop("format_version")
        (copy / "vocab.txt").write_text("music\npiano\n")
        write_manifest(copy, fields)  # consistent hashes, a vocabulary the tokenizer cannot use: found by the model

    damages = {
        "tampered": (lambda c: (c / "vocab.txt").write_text("[PAD]\nextra"),
                     "bundle file {}/vocab.txt failed its SHA-256"),
        "missing": (lambda c: (c / "dit.onnx").unlink(), "bundle file missing: {}/dit.onnx"),
        "unlisted": (lambda c: (c / "notes.txt").write_text("x"), "bundle {} holds file.*does not list.*notes.txt"),
        "json": (lambda c: (c / "manifest.json").write_text("{not json"), "{}/manifest.json: invalid JSON"),
        "vocabulary": (vocabulary, "{}/vocab.txt: vocabulary lacks the special token"),
    }
    for name, (damage, message) in damages.items():
        archive = archive_bundle(damaged_copy(tiny_bundle, tmp_path / name, damage), tmp_path / f"{name}.zip")
        with pytest.raises(BundleError, match=message.format(re.escape(str(archive)))) as info:
            SagaSRModel.load(archive)
        assert "sagasr-bundle-" not in str(info.value)
