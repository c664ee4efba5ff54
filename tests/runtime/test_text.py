import numpy as np
import pytest

from sagasr_stream.text import WordPieceTokenizer, basic_tokenize

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "the", "piano", "play", "##ing", "##s", "cafe", ",", ".", "!", "un", "##want", "##ed", "runn"]


@pytest.fixture
def vocab_file(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("\n".join(VOCAB) + "\n")
    return path


def test_basic_tokenizer_lowercases_strips_accents_and_splits_punctuation():
    assert basic_tokenize("Café, PIANOS!\tunwanted") == ["cafe", ",", "pianos", "!", "unwanted"]


def test_wordpiece_ids_and_mask(vocab_file):
    tok = WordPieceTokenizer(vocab_file, max_tokens=8)
    ids, mask = tok(["The pianos playing", ""])
    v = {t: i for i, t in enumerate(VOCAB)}
    assert ids[0].tolist() == [v["[CLS]"], v["the"], v["piano"], v["##s"], v["play"], v["##ing"], v["[SEP]"], v["[PAD]"]]
    assert mask.tolist() == [[1] * 7 + [0], [1, 1] + [0] * 6]
    assert ids.dtype == mask.dtype == np.int64
    long_ids, _ = tok(["piano " * 20])
    assert long_ids[0, -1] == v["[SEP]"]  # truncated, still closed


def test_wordpiece_matches_transformers_bert_tokenizer(vocab_file):
    transformers = pytest.importorskip("transformers")  # a reference only; the runtime never needs it
    reference = transformers.BertTokenizer(str(vocab_file), do_lower_case=True)
    ours = WordPieceTokenizer(vocab_file, max_tokens=16)
    for text in ["The piano, playing!", "unwanted runn xyz", "CAFÉ pianos."]:
        expected = reference(text, padding="max_length", max_length=16, truncation=True)["input_ids"]
        assert ours([text])[0][0].tolist() == expected, text
