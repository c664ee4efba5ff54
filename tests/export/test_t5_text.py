"""The T5 path (full size) with a tiny random T5 encoder and a word-level tokenizer.json (no download):
tokenizer kind "hf_tokenizers" in the bundle, ONNX text encoder parity, checkpoint round trip."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

tokenizers = pytest.importorskip("tokenizers")

from sagasr_export.model.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402
from sagasr_export.exporter import export_bundle  # noqa: E402
from sagasr_export.model import build_model, named_config  # noqa: E402
from sagasr_stream.bundle import load_bundle  # noqa: E402
from sagasr_stream.text import HFTokenizer  # noqa: E402


def test_t5_text_encoder_exports_with_hf_tokenizer(tmp_path):
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace

    words = ["<pad>", "</s>", "<unk>", "a", "bright", "piano", "warm", "bass", "drums"]
    tok = Tokenizer(WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tok.pre_tokenizer = Whitespace()
    tok.save(str(tmp_path / "tokenizer.json"))
    cfg = named_config("tiny").to_dict()
    cfg["text"] = {"kind": "t5", "max_tokens": 10, "path": None, "tokenizer_file": str(tmp_path / "tokenizer.json"),
                   "hf_config": {"vocab_size": len(words), "d_model": 16, "d_kv": 8, "d_ff": 32, "num_layers": 1,
                                 "num_heads": 2, "dropout_rate": 0.0}}
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    ids, mask = model.tokenize(["a bright piano", "warm bass and drums"])
    rt_ids, rt_mask = HFTokenizer(tmp_path / "tokenizer.json", 10)(["a bright piano", "warm bass and drums"])
    np.testing.assert_array_equal(ids.numpy(), rt_ids)
    assert mask.sum().item() == 3 + 4  # word level, no special tokens; "and" -> <unk>

    manifest = export_bundle(model, tmp_path / "bundle")
    assert manifest.text.tokenizer == {"kind": "hf_tokenizers", "file": "tokenizer.json"} and manifest.text.dim == 16
    bundle = load_bundle(tmp_path / "bundle")
    import onnxruntime as ort

    session = ort.InferenceSession(str(bundle.path("text_encoder")), providers=["CPUExecutionProvider"])
    got = session.run(None, {"input_ids": rt_ids, "attention_mask": rt_mask})[0]
    want = model.encode_text(ids, mask).numpy()
    np.testing.assert_allclose(got, want, atol=1e-4)
    assert np.all(got[rt_mask == 0] == 0)

    save_checkpoint(model, tmp_path / "ckpt")
    assert json.loads((tmp_path / "ckpt" / "config.json").read_text())["text"]["kind"] == "t5"
    loaded = load_checkpoint(tmp_path / "ckpt")
    torch.testing.assert_close(loaded.encode_text(ids, mask), model.encode_text(ids, mask), rtol=0, atol=0)
