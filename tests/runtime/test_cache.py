"""The load cache (verified hashes, ORT's optimised graphs) and the empty caption: faster, never different."""
import numpy as np
import pytest

from sagasr_stream import BundleError, RestoreSettings, SagaSRModel, bundle, restore
from sagasr_stream.testing import build_tiny_bundle
from tests.conftest import band_limited_noise


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("SAGASR_CACHE_DIR", str(folder))
    monkeypatch.delenv("SAGASR_NO_CACHE", raising=False)
    return folder


@pytest.fixture
def hashed_files(monkeypatch):
    """Names of the files sha256_file hashes."""
    seen = []
    real = bundle.sha256_file

    def counting(path):
        seen.append(path.name)
        return real(path)

    monkeypatch.setattr(bundle, "sha256_file", counting)
    return seen


def test_verified_hashes_are_reused_until_a_file_changes(tmp_path, cache, hashed_files):
    root = build_tiny_bundle(tmp_path / "b")
    hashed_files.clear()
    bundle.load_bundle(root)
    assert len(hashed_files) >= 4 and (cache / "verified_hashes.json").is_file()
    hashed_files.clear()
    bundle.load_bundle(root)
    assert hashed_files == []  # nothing hashed the second time
    dit = root / "dit.onnx"
    data = bytearray(dit.read_bytes())
    data[-10] ^= 0xFF  # same size, new mtime
    dit.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="dit.onnx failed its SHA-256 check"):
        bundle.load_bundle(root)
    assert hashed_files == ["dit.onnx"]


def test_the_cache_can_be_turned_off(tmp_path, cache, hashed_files, monkeypatch):
    monkeypatch.setenv("SAGASR_NO_CACHE", "1")
    root = build_tiny_bundle(tmp_path / "b")
    hashed_files.clear()
    bundle.load_bundle(root)
    first = len(hashed_files)
    bundle.load_bundle(root)
    assert len(hashed_files) == 2 * first and not cache.exists()


def test_a_damaged_cache_file_is_ignored(tmp_path, cache):
    root = build_tiny_bundle(tmp_path / "b")
    cache.mkdir()
    (cache / "verified_hashes.json").write_text("{not json")
    bundle.load_bundle(root)
    bundle.load_bundle(root)


def test_empty_caption_tokens_equal_the_encoder_output_without_running_it(tiny_bundle, cache):
    model = SagaSRModel.load(tiny_bundle)
    tokens = model.text_tokens("")
    assert "text_encoder" not in model.backend.sessions  # never started for an empty caption
    ids, mask = model.tokenizer([""])
    encoded = model.backend.encode_text(ids, np.zeros_like(mask)) * 0  # what the old path computed
    assert tokens.dtype == encoded.dtype and tokens.shape == encoded.shape
    np.testing.assert_array_equal(tokens, encoded)
    assert model.text_tokens("piano").any()  # a caption starts the encoder on demand


def test_optimised_graphs_are_cached_and_give_bit_identical_output(tiny_bundle, cache, monkeypatch):
    x = band_limited_noise(20000, channels=2, seed=5)
    no_caption = RestoreSettings(caption="")
    monkeypatch.setenv("SAGASR_ROW_SPLIT", "2")  # the one-thread row-group sessions are cached too
    monkeypatch.setenv("SAGASR_NO_CACHE", "1")
    reference = restore(x, 44100, SagaSRModel.load(tiny_bundle), no_caption)
    monkeypatch.delenv("SAGASR_NO_CACHE")
    filling = restore(x, 44100, SagaSRModel.load(tiny_bundle), no_caption)
    saved = sorted((cache / "ort").glob("*.onnx"))
    assert len(saved) == 6  # dit, the two VAE graphs and their one-thread forms; the text encoder was not needed
    from_cache = restore(x, 44100, SagaSRModel.load(tiny_bundle), no_caption)
    np.testing.assert_array_equal(filling, reference)
    np.testing.assert_array_equal(from_cache, reference)
    for path in saved:
        path.write_bytes(b"not an onnx graph")  # a damaged cache entry is dropped and rebuilt
    np.testing.assert_array_equal(restore(x, 44100, SagaSRModel.load(tiny_bundle), no_caption), reference)
    assert all(path.stat().st_size > 100 for path in saved)
    captioned = RestoreSettings(caption="piano")
    monkeypatch.setenv("SAGASR_NO_CACHE", "1")
    reference = restore(x, 44100, SagaSRModel.load(tiny_bundle), captioned)
    monkeypatch.delenv("SAGASR_NO_CACHE")
    restore(x, 44100, SagaSRModel.load(tiny_bundle), captioned)
    assert len(list((cache / "ort").glob("*.onnx"))) == 7  # now the text encoder too
    np.testing.assert_array_equal(restore(x, 44100, SagaSRModel.load(tiny_bundle), captioned), reference)


def test_a_graph_whose_optimised_form_cannot_be_saved_still_loads(tiny_bundle, cache, monkeypatch):
    import onnxruntime as ort

    real = ort.InferenceSession

    def refuses_to_save(path, options=None, **kwargs):
        if options is not None and options.optimized_model_filepath:
            raise RuntimeError("cannot save the optimised model")
        return real(path, options, **kwargs)

    monkeypatch.setattr(ort, "InferenceSession", refuses_to_save)
    x = band_limited_noise(9000, seed=6)
    y = restore(x, 44100, SagaSRModel.load(tiny_bundle), RestoreSettings(caption=""))
    assert y.shape == x.shape and not list((cache / "ort").glob("*.onnx"))


def test_content_changed_with_its_size_and_mtime_kept_is_hashed_again(tmp_path, cache, hashed_files):
    """The verified-hash record used to trust size and mtime: a file rewritten in place with os.utime putting its
    mtime back loaded unchecked. The status-change time (and inode) are part of the record now."""
    import os

    root = build_tiny_bundle(tmp_path / "b")
    bundle.load_bundle(root)
    vocab = root / "vocab.txt"
    before = vocab.stat()
    vocab.write_bytes(vocab.read_bytes().replace(b"music", b"xxxxx"))
    os.utime(vocab, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (vocab.stat().st_size, vocab.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    hashed_files.clear()
    with pytest.raises(BundleError, match="vocab.txt failed its SHA-256 check"):
        bundle.load_bundle(root)
    assert hashed_files == ["vocab.txt"]


def test_a_graph_swapped_after_loading_is_refused_when_its_session_starts(tmp_path, cache):
    """The text encoder starts on the first caption, long after the bundle was verified: it used to run (and cache
    the optimised form of) whatever file was there by then."""
    root = build_tiny_bundle(tmp_path / "b")
    other = build_tiny_bundle(tmp_path / "other", seed=1)
    model = SagaSRModel.load(root)
    cached = sorted((cache / "ort").glob("*"))
    (root / "text_encoder.onnx").write_bytes((other / "text_encoder.onnx").read_bytes())
    with pytest.raises(BundleError, match="text_encoder.onnx changed after the bundle was verified"):
        model.text_tokens("music")
    assert sorted((cache / "ort").glob("*")) == cached  # nothing of it was cached


def test_a_graph_changed_in_an_archives_folder_is_refused_naming_the_archive(tmp_path, cache):
    """An archive's bundle is read from the temporary folder it was extracted to; the text encoder's session starts
    on the first caption, outside the load, and its refusal named that folder, which the user never gave."""
    archive = bundle.archive_bundle(build_tiny_bundle(tmp_path / "b"), tmp_path / "model.zip")
    other = build_tiny_bundle(tmp_path / "other", seed=1)
    model = SagaSRModel.load(archive)
    (model.bundle.root / "text_encoder.onnx").write_bytes((other / "text_encoder.onnx").read_bytes())
    with pytest.raises(BundleError, match="text_encoder.onnx changed after the bundle was verified") as error:
        model.text_tokens("music")
    assert str(archive) in str(error.value) and str(model.bundle.root) not in str(error.value)


def test_an_archive_whose_extracted_copy_changed_is_extracted_again(tmp_path, cache):
    """An archive is extracted once per process and its folder reused: when that copy had changed (or a temp
    cleaner had removed files), every later load of the intact archive failed its SHA-256 check, naming the
    archive as damaged."""
    archive = bundle.archive_bundle(build_tiny_bundle(tmp_path / "b"), tmp_path / "model.zip")
    first = bundle.load_bundle(archive)
    (first.root / "vocab.txt").write_text("changed")
    (first.root / "dit.onnx").unlink()
    again = bundle.load_bundle(archive)
    assert again.root != first.root and (again.root / "dit.onnx").is_file()
    assert bundle.load_bundle(archive).root == again.root  # the fresh copy is reused


def test_an_altered_optimised_graph_is_not_loaded(tiny_bundle, cache):
    """The optimised-graph cache used to be loaded unchecked: a cached DiT with other weights ran in place of the
    verified one. Each saved graph has its SHA-256 beside it; one that disagrees is dropped and rebuilt."""
    import onnx
    from onnx import numpy_helper

    x = band_limited_noise(20000, seed=7)
    no_caption = RestoreSettings(caption="")
    reference = restore(x, 44100, SagaSRModel.load(tiny_bundle), no_caption)
    saved = sorted((cache / "ort").glob("*.onnx"))
    assert saved and all(p.with_suffix(".sha256").is_file() for p in saved)
    for path in saved:  # a valid graph with every weight changed, saved where the cache looks
        graph = onnx.load(str(path))
        for init in graph.graph.initializer:
            values = numpy_helper.to_array(init)
            if values.dtype.kind == "f":
                init.CopyFrom(numpy_helper.from_array((values * 1.5 + 0.1).astype(values.dtype), init.name))
        onnx.save(graph, str(path))
    np.testing.assert_array_equal(restore(x, 44100, SagaSRModel.load(tiny_bundle), no_caption), reference)
