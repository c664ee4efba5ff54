"""Caption tokenizers for the bundle's text encoder.

- ``wordpiece``: BERT-family (all-MiniLM-L6-v2) in pure Python from ``vocab.txt``: basic tokenisation
  (clean, lower-case, strip accents, split punctuation) then greedy longest-match WordPiece.
- ``hf_tokenizers``: any ``tokenizer.json`` (for example T5) through the optional ``tokenizers`` package.

Both return ``(input_ids, attention_mask)``, int64 arrays of shape (B, max_tokens).
"""
from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .errors import BundleError


class Tokenizer(Protocol):
    max_tokens: int

    def __call__(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]: ...


def _is_punctuation(ch: str) -> bool:
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp: int) -> bool:
    return (
        0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF or 0x2A700 <= cp <= 0x2B73F
        or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F
    )


def basic_tokenize(text: str, lowercase: bool = True) -> list[str]:
    """BERT's basic tokenizer: drop control characters, split on whitespace and punctuation."""
    cleaned = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD or (unicodedata.category(ch).startswith("C") and ch not in "\t\n\r"):
            continue
        if _is_cjk(cp):
            cleaned.append(f" {ch} ")
        else:
            cleaned.append(" " if ch.isspace() else ch)
    words = []
    for word in "".join(cleaned).split():
        if lowercase:
            word = "".join(c for c in unicodedata.normalize("NFD", word.lower()) if unicodedata.category(c) != "Mn")
        current = ""
        for ch in word:
            if _is_punctuation(ch):
                if current:
                    words.append(current)
                words.append(ch)
                current = ""
            else:
                current += ch
        if current:
            words.append(current)
    return words


class WordPieceTokenizer:
    """BERT WordPiece tokenizer from a ``vocab.txt`` (one token per line, line number = id)."""

    def __init__(self, vocab_file: str | Path, max_tokens: int, lowercase: bool = True) -> None:
        lines = Path(vocab_file).read_text(encoding="utf-8").splitlines()
        self.vocab = {token: i for i, token in enumerate(lines)}
        for special in ("[CLS]", "[SEP]", "[PAD]", "[UNK]"):
            if special not in self.vocab:
                raise BundleError(f"{vocab_file}: vocabulary lacks the special token {special}")
        self.max_tokens = max_tokens
        self.lowercase = lowercase

    def _wordpiece(self, word: str) -> list[int]:
        if len(word) > 100:
            return [self.vocab["[UNK]"]]
        pieces, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.vocab:
                    pieces.append(self.vocab[piece])
                    break
                end -= 1
            else:
                return [self.vocab["[UNK]"]]
            start = end
        return pieces

    def encode(self, text: str) -> list[int]:
        ids = [i for word in basic_tokenize(text, self.lowercase) for i in self._wordpiece(word)]
        return [self.vocab["[CLS]"]] + ids[: self.max_tokens - 2] + [self.vocab["[SEP]"]]

    def __call__(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        ids = np.full((len(texts), self.max_tokens), self.vocab["[PAD]"], dtype=np.int64)
        mask = np.zeros((len(texts), self.max_tokens), dtype=np.int64)
        for row, text in enumerate(texts):
            encoded = self.encode(text)
            ids[row, : len(encoded)] = encoded
            mask[row, : len(encoded)] = 1
        return ids, mask


class HFTokenizer:
    """A ``tokenizer.json`` through the ``tokenizers`` package, padded/truncated to ``max_tokens``."""

    def __init__(self, tokenizer_file: str | Path, max_tokens: int) -> None:
        try:
            from tokenizers import Tokenizer as _Tokenizer
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise BundleError(
                "this model's tokenizer needs the 'tokenizers' package: pip install 'tokenizers>=0.15'"
            ) from exc
        self.tokenizer = _Tokenizer.from_file(str(tokenizer_file))
        self.tokenizer.enable_truncation(max_tokens)
        self.max_tokens = max_tokens

    def __call__(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        ids = np.zeros((len(texts), self.max_tokens), dtype=np.int64)
        mask = np.zeros((len(texts), self.max_tokens), dtype=np.int64)
        for row, encoding in enumerate(self.tokenizer.encode_batch(texts)):
            n = len(encoding.ids)
            ids[row, :n] = encoding.ids
            mask[row, :n] = 1
        return ids, mask


def tokenizer_from_spec(root: Path, spec: dict[str, Any], max_tokens: int) -> Tokenizer:
    """Build the tokenizer a manifest's ``text.tokenizer`` entry describes (files relative to ``root``)."""
    kind = spec.get("kind")
    file = root / spec.get("file", "")
    if not file.is_file():
        raise BundleError(f"tokenizer file missing: {file}")
    if kind == "wordpiece":
        return WordPieceTokenizer(file, max_tokens, bool(spec.get("lowercase", True)))
    if kind == "hf_tokenizers":
        return HFTokenizer(file, max_tokens)
    raise BundleError(f"unknown tokenizer kind {kind!r} (expected 'wordpiece' or 'hf_tokenizers')")
