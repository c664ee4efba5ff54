"""SAGA-SR assembled from stable-audio-tools 0.0.19 public classes (no edits to SAT).

Parts: Oobleck VAE (``AudioAutoencoder`` + ``OobleckEncoder``/``OobleckDecoder`` + ``VAEBottleneck``), a
``DiffusionTransformer`` with the LR latent concatenated on channels (``input_concat_dim`` = C), roll-off and
text conditioning (:mod:`.conditioners`), and a frozen text encoder.

Rectified flow convention: x_t = (1 - t) x0 + t noise, t = 1 is pure noise, the DiT predicts the velocity
v = noise - x0; t enters SAT's timestep Fourier features as is. Nulls: ``lr_keep = 0`` replaces the LR latent
by the constant ``lr_null_value``; ``cross_keep = 0`` zeroes every cross-attention token (text and roll-offs;
SAT's number embedding of 0 is not zero, so outputs are zeroed). The global vector (both roll-offs) is
always kept.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Union

import torch
from stable_audio_tools.models.autoencoders import AudioAutoencoder, OobleckDecoder, OobleckEncoder
from stable_audio_tools.models.bottleneck import VAEBottleneck
from stable_audio_tools.models.dit import DiffusionTransformer
from torch import nn

from .conditioners import TEXT_PADDINGS, SagaConditioner, TextEncoder, check_slope_gate
from .mdct import EnvelopeAutoencoder, MDCTAutoencoder, envelope_channels

MDCT_KINDS = ("mdct", "mdct-env")
#: what :func:`build_autoencoder` makes: SAT's Oobleck VAE or one of the analytic transforms of :mod:`.mdct`
Autoencoder = Union[AudioAutoencoder, MDCTAutoencoder, EnvelopeAutoencoder]


@dataclass
class VAEConfig:
    """The VAE. ``kind="oobleck"``: SAT's Oobleck, ``latent_dim`` latent channels C, downsampling = prod(strides).
    ``kind="mdct"``: the analytic power-compressed MDCT of :mod:`.mdct` (no weights, exact round trip):
    ``hop`` samples per frame, ``stack`` frames per latent frame, ``latent_dim`` = ``hop * stack`` channels,
    ``alpha`` the compression exponent; downsampling = ``hop * stack``.
    ``kind="mdct-env"``: the same MDCT split into log band energies and unit-power excitation
    (:class:`.mdct.EnvelopeEncoder`, exact round trip): ``latent_dim`` = ``stack * (bands + hop)``; the DiT
    generates the envelopes only and leaves the excitation at its starting noise (see :func:`dit_velocity`)."""

    kind: str = "oobleck"
    hop: int = 512
    stack: int = 1
    alpha: float = 0.5
    channels: int = 128
    c_mults: list[int] = field(default_factory=lambda: [1, 2, 4, 8, 16])
    strides: list[int] = field(default_factory=lambda: [2, 4, 4, 8, 8])
    latent_dim: int = 64
    use_snake: bool = True
    final_tanh: bool = False


@dataclass
class DiTConfig:
    """SAT DiffusionTransformer; ``global_cond_dim`` is 2 x cond_token_dim (two roll-offs)."""

    embed_dim: int = 1536
    depth: int = 24
    num_heads: int = 24
    cond_token_dim: int = 768
    project_cond_tokens: bool = False
    io_convs: bool = True  # SAT's zero-initialised residual 1x1 convolutions before/after the transformer;
                           # False drops them (at 2048 input channels the first costs more than the transformer)
    slope_condition: bool = False  # the DiT also sees the input's slope below its band edge (dB/octave, the
                                   # ``dit`` graph's optional input ``slope_in``; conditioners.SagaConditioner)
    slope_gate: list[float] | None = None  # [onset, full] dB/octave: the slope's embedding times a gate, 0 at slopes
                                           # >= onset, 1 at <= full (conditioners.slope_gate); None: no gate


@dataclass
class TextConfig:
    """Frozen text encoder. ``path``: local HF folder or "minilm" (packaged); ``hf_config``: build with
    random weights from this HF config dict instead (tests; checkpoints). ``vocab``: WordPiece tokens.
    ``padding``: what the DiT sees after a caption's last token, "zero" or "repeat" (the caption's tokens again,
    :func:`~.conditioners.repeat_live_tokens`; in the exported DiT graph, so the runtime is the same for both)."""

    kind: str = "bert"
    max_tokens: int = 64
    path: str | None = "minilm"
    hf_config: dict[str, Any] | None = None
    vocab: list[str] | None = None
    tokenizer_file: str | None = None
    padding: str = "zero"  # after a caption's last token: "zero" or "repeat" (conditioners.repeat_live_tokens)


@dataclass
class SagaSRConfig:
    name: str = "sagasr"
    sample_rate: int = 44100
    window_samples: int = 65536
    lr_null_value: float = -5.0
    input_peak: float = 0.5
    # diffusion latents = (VAE posterior mean - latent_shift) x latent_scale; each a number or one per channel
    latent_shift: float | list[float] = 0.0
    latent_scale: float | list[float] = 1.0
    vae: VAEConfig = field(default_factory=VAEConfig)
    dit: DiTConfig = field(default_factory=DiTConfig)
    text: TextConfig = field(default_factory=TextConfig)
    defaults: dict[str, Any] = field(default_factory=dict)  # sagasr_stream.bundle.Defaults fields
    description: str = ""

    @property
    def downsampling(self) -> int:
        return self.vae.hop * self.vae.stack if self.vae.kind in MDCT_KINDS else math.prod(self.vae.strides)

    @property
    def generated_channels(self) -> int:
        """Latent channels the DiT generates (all of them, except the excitation of ``mdct-env``)."""
        if self.vae.kind == "mdct-env":
            return envelope_channels(self.vae.hop, self.vae.stack)
        return self.vae.latent_dim

    @property
    def latent_frames(self) -> int:
        return self.window_samples // self.downsampling

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def validate(self) -> "SagaSRConfig":
        """Raise ValueError naming the bad key."""
        v, d, t = self.vae, self.dit, self.text
        if v.kind not in ("oobleck", *MDCT_KINDS):
            raise ValueError(f"vae.kind must be one of {('oobleck', *MDCT_KINDS)}, got {v.kind!r}")
        if v.kind in MDCT_KINDS:
            if v.hop < 8 or v.hop % 2 or v.stack < 1:
                raise ValueError(f"vae.kind {v.kind!r} needs an even hop >= 8 and stack >= 1, got hop {v.hop}, stack {v.stack}")
            want = v.hop * v.stack if v.kind == "mdct" else envelope_channels(v.hop, v.stack) + v.hop * v.stack
            if v.latent_dim != want:
                raise ValueError(f"vae.kind {v.kind!r} with hop {v.hop} and stack {v.stack} has {want} latent channels; "
                                 f"vae.latent_dim is {v.latent_dim}")
            if not 0 < v.alpha <= 1:
                raise ValueError(f"vae.alpha must be in (0, 1], got {v.alpha}")
            if self.window_samples < 2 * v.hop * v.stack:
                raise ValueError(f"window_samples {self.window_samples} must hold at least two latent frames of {v.hop * v.stack}")
        if len(v.c_mults) != len(v.strides) or not v.strides:
            raise ValueError(f"vae.c_mults ({len(v.c_mults)}) and vae.strides ({len(v.strides)}) must have the same non-zero length")
        for key in ("channels", "latent_dim"):
            if getattr(v, key) <= 0:
                raise ValueError(f"vae.{key} must be positive")
        if any(s <= 0 for s in v.strides):
            raise ValueError("vae.strides must be positive")
        if self.window_samples <= 0 or self.window_samples % self.downsampling:
            raise ValueError(f"window_samples {self.window_samples} must be a positive multiple of the downsampling {self.downsampling}")
        if d.embed_dim % d.num_heads:
            raise ValueError(f"dit.embed_dim {d.embed_dim} must be divisible by dit.num_heads {d.num_heads}")
        if d.embed_dim // d.num_heads < 32:
            raise ValueError(f"dit.embed_dim / dit.num_heads must be >= 32 (SAT's rotary embedding), got {d.embed_dim // d.num_heads}")
        for key in ("embed_dim", "depth", "num_heads", "cond_token_dim"):
            if getattr(d, key) <= 0:
                raise ValueError(f"dit.{key} must be positive")
        if d.slope_gate is not None:
            check_slope_gate(d.slope_gate, d.slope_condition)
        if t.kind not in ("bert", "t5"):
            raise ValueError(f"text.kind must be 'bert' or 't5', got {t.kind!r}")
        if t.max_tokens < 3:
            raise ValueError("text.max_tokens must be >= 3")
        if t.padding not in TEXT_PADDINGS:
            raise ValueError(f"text.padding must be one of {TEXT_PADDINGS}, got {t.padding!r}")
        if t.path is None and t.hf_config is None:
            raise ValueError("text: give text.path (a local folder or 'minilm') or text.hf_config")
        if self.sample_rate <= 0:
            raise ValueError("sample_rate must be positive")
        for key in ("latent_shift", "latent_scale"):
            value = getattr(self, key)
            values = value if isinstance(value, list) else [value]
            if isinstance(value, list) and len(value) != v.latent_dim:
                raise ValueError(f"{key} has {len(value)} values; vae.latent_dim is {v.latent_dim}")
            if not all(isinstance(x, (int, float)) and math.isfinite(x) for x in values):
                raise ValueError(f"{key} must hold finite numbers, got {value}")
            if key == "latent_scale" and not all(x > 0 for x in values):
                raise ValueError(f"latent_scale must be positive, got {value}")
        return self


def _sub(cls: type, data: Any, key: str) -> Any:
    if isinstance(data, cls):
        return data
    if not isinstance(data, dict):
        raise ValueError(f"{key} must be an object")
    names = {f.name for f in fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"unknown key(s) in {key}: {sorted(unknown)}")
    return cls(**data)


def load_config(config: str | os.PathLike[str] | dict[str, Any] | SagaSRConfig) -> SagaSRConfig:
    """A JSON file, a dict or a config -> validated :class:`SagaSRConfig` (ValueError naming bad keys)."""
    if isinstance(config, SagaSRConfig):
        return config.validate()
    raw = config if isinstance(config, dict) else json.loads(Path(config).read_text(encoding="utf-8"))
    data = dict(raw)
    data.pop("$comment", None)
    unknown = set(data) - {f.name for f in fields(SagaSRConfig)}
    if unknown:
        raise ValueError(f"unknown config key(s): {sorted(unknown)}")
    data["vae"] = _sub(VAEConfig, data.get("vae", {}), "vae")
    data["dit"] = _sub(DiTConfig, data.get("dit", {}), "dit")
    data["text"] = _sub(TextConfig, data.get("text", {}), "text")
    return SagaSRConfig(**data).validate()


CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"  # export/configs/


def named_config(name: str) -> SagaSRConfig:
    """One of the shipped configs: "full", "small", "tiny"."""
    path = CONFIG_DIR / f"{name}.json"
    if not path.is_file():
        raise ValueError(f"no shipped config {name!r} (have {sorted(p.stem for p in CONFIG_DIR.glob('*.json'))})")
    return load_config(path)


def build_autoencoder(cfg: SagaSRConfig) -> Autoencoder:
    """Mono Oobleck VAE (the encoder outputs 2C channels, mean and scale, for the VAE bottleneck), or the
    analytic MDCT transform for ``vae.kind == "mdct"`` (same encoder/decoder contract, no weights)."""
    v = cfg.vae
    if v.kind == "mdct":
        return MDCTAutoencoder(v.hop, v.alpha, v.stack)
    if v.kind == "mdct-env":
        return EnvelopeAutoencoder(v.hop, v.stack)
    common = dict(channels=v.channels, c_mults=list(v.c_mults), strides=list(v.strides), use_snake=v.use_snake)
    return AudioAutoencoder(
        encoder=OobleckEncoder(in_channels=1, latent_dim=2 * v.latent_dim, **common),
        decoder=OobleckDecoder(out_channels=1, latent_dim=v.latent_dim, final_tanh=v.final_tanh, **common),
        latent_dim=v.latent_dim,
        downsampling_ratio=cfg.downsampling,
        sample_rate=cfg.sample_rate,
        io_channels=1,
        bottleneck=VAEBottleneck(),
    )


class ZeroBranch(nn.Module):
    """Stands in for one of SAT's residual 1x1 convolutions (``x = conv(x) + x``): contributes nothing."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros((), dtype=x.dtype, device=x.device)


def build_dit(cfg: SagaSRConfig) -> DiffusionTransformer:
    """SAT's DiT over the latent channels it generates (``cfg.generated_channels``, recorded on the module as
    ``generated_channels``), with the LR latent's same channels concatenated."""
    d, c = cfg.dit, cfg.generated_channels
    dit = DiffusionTransformer(
        io_channels=c,
        embed_dim=d.embed_dim,
        depth=d.depth,
        num_heads=d.num_heads,
        cond_token_dim=d.cond_token_dim,
        project_cond_tokens=d.project_cond_tokens,
        global_cond_dim=2 * d.cond_token_dim,
        input_concat_dim=c,
        diffusion_objective="rectified_flow",
    )
    if not d.io_convs:
        dit.preprocess_conv, dit.postprocess_conv = ZeroBranch(), ZeroBranch()
    dit.generated_channels = c
    return dit


def dit_velocity(dit: DiffusionTransformer, conditioner: SagaConditioner, lr_null: torch.Tensor, x: torch.Tensor,
                 t: torch.Tensor, lr_latent: torch.Tensor, lr_keep: torch.Tensor, text_tokens: torch.Tensor,
                 cross_keep: torch.Tensor, rolloff_in: torch.Tensor, rolloff_out: torch.Tensor,
                 slope_in: torch.Tensor | None = None, use_checkpointing: bool = False) -> torch.Tensor:
    """:meth:`SagaSR.velocity` on explicit parts (so the exported DiT graph holds only these weights).

    The DiT sees and predicts the first ``dit.generated_channels`` channels; the velocity of any further
    channel is 0, so those keep their starting noise (the excitation of the ``mdct-env`` latent)."""
    c = getattr(dit, "generated_channels", x.shape[1])
    keep = lr_keep.to(x.dtype)[:, None, None]
    lr = lr_latent[:, :c] * keep + (1 - keep) * lr_null.to(x.dtype)
    cross, glob = conditioner(text_tokens, cross_keep, rolloff_in, rolloff_out, slope_in)
    v = dit._forward(x[:, :c], t.to(x.dtype), cross_attn_cond=cross, input_concat_cond=lr, global_embed=glob,
                     use_checkpointing=use_checkpointing)
    if c == x.shape[1]:
        return v
    return torch.cat([v, torch.zeros_like(x[:, c:])], dim=1)


def latent_affine(cfg: SagaSRConfig, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """(shift, scale) as (C, 1) tensors: diffusion latent = (VAE mean - shift) x scale."""
    c = cfg.vae.latent_dim

    def column(value: float | list[float]) -> torch.Tensor:
        return torch.as_tensor(value, dtype=dtype).expand(c).reshape(c, 1).clone()

    return column(cfg.latent_shift), column(cfg.latent_scale)


class SagaSR(nn.Module):
    """The whole model. Attributes: ``config``, ``autoencoder``, ``dit``, ``conditioner``, ``text_encoder``.

    ``use_checkpointing`` (default False) turns on SAT's activation checkpointing in the DiT for training.
    """

    lr_null: torch.Tensor  # buffers (register_buffer), declared for the type checker
    latent_shift: torch.Tensor
    latent_scale: torch.Tensor

    def __init__(self, config: SagaSRConfig, text_encoder: TextEncoder | None = None) -> None:
        super().__init__()
        self.config = config
        self.autoencoder = build_autoencoder(config)
        self.dit = build_dit(config)
        t = config.text
        self.text_encoder = text_encoder or TextEncoder(t.kind, t.max_tokens, t.path, t.hf_config, t.vocab, t.tokenizer_file)
        self.conditioner = SagaConditioner(self.text_encoder.dim, config.dit.cond_token_dim, config.text.padding,
                                           config.dit.slope_condition, config.dit.slope_gate)
        self.register_buffer("lr_null", torch.tensor(float(config.lr_null_value)), persistent=False)
        shift, scale = latent_affine(config)  # buffers: they follow the model to its device
        self.register_buffer("latent_shift", shift, persistent=False)
        self.register_buffer("latent_scale", scale, persistent=False)
        self.use_checkpointing = False

    # --- VAE -------------------------------------------------------------------------------------------
    def encode_audio(self, audio: torch.Tensor) -> torch.Tensor:
        """(B, 1, L) float, L a multiple of the downsampling -> (posterior mean - latent_shift) x latent_scale,
        (B, C, L / downsampling)."""
        if audio.ndim != 3 or audio.shape[1] != 1:
            raise ValueError(f"audio must be (B, 1, L), got {tuple(audio.shape)}")
        if audio.shape[-1] % self.config.downsampling:
            raise ValueError(f"audio length {audio.shape[-1]} is not a multiple of {self.config.downsampling}")
        return (self.autoencoder.encoder(audio).chunk(2, dim=1)[0] - self.latent_shift) * self.latent_scale

    def encode_posterior(self, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 1, L) -> (sampled latent, KL) through SAT's VAE bottleneck (for VAE training; the Oobleck VAE only)."""
        if isinstance(self.autoencoder, (MDCTAutoencoder, EnvelopeAutoencoder)):
            raise ValueError("encode_posterior needs the Oobleck VAE's bottleneck; vae.kind is "
                             f"{self.config.vae.kind!r} (an analytic transform, no posterior to sample)")
        latent, info = self.autoencoder.bottleneck.encode(self.autoencoder.encoder(audio), return_info=True)
        return latent, info["kl"]

    def decode_latent(self, latent: torch.Tensor) -> torch.Tensor:
        """(B, C, T) diffusion latents (scaled as :meth:`encode_audio`'s) -> audio (B, 1, T * downsampling)."""
        return self.autoencoder.decoder(latent / self.latent_scale + self.latent_shift)

    # --- DiT -------------------------------------------------------------------------------------------
    def velocity(self, x: torch.Tensor, t: torch.Tensor, lr_latent: torch.Tensor, lr_keep: torch.Tensor,
                 text_tokens: torch.Tensor, cross_keep: torch.Tensor, rolloff_in: torch.Tensor,
                 rolloff_out: torch.Tensor, slope_in: torch.Tensor | None = None) -> torch.Tensor:
        """The ``dit`` graph contract: x, lr_latent (B,C,T); t, lr_keep, cross_keep, rolloff_in/out (B,);
        text_tokens (B,S,D_text); ``slope_in`` (B,) dB/octave with ``dit.slope_condition`` (None without)
        -> v (B,C,T) = noise - x0 (rectified flow)."""
        return dit_velocity(self.dit, self.conditioner, self.lr_null, x, t, lr_latent, lr_keep, text_tokens,
                            cross_keep, rolloff_in, rolloff_out, slope_in, self.use_checkpointing and self.training)

    # --- text ------------------------------------------------------------------------------------------
    def tokenize(self, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """captions -> (input_ids (B,S) int64, attention_mask (B,S) int64), S = text.max_tokens."""
        return self.text_encoder.tokenize(captions)

    def encode_text(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """(B,S) int64 ids and mask -> (B,S,D_text) float, zero where mask == 0 (frozen, no grad)."""
        with torch.no_grad():
            return self.text_encoder(input_ids, attention_mask)

    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        return {k: v for k, v in self.state_dict().items() if not k.startswith("text_encoder.")}


def build_model(config: str | os.PathLike[str] | dict[str, Any] | SagaSRConfig) -> SagaSR:
    """Config (path, dict or dataclass) -> :class:`SagaSR` with fresh weights (text encoder loaded/built)."""
    return SagaSR(load_config(config))
