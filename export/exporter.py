"""Export a :class:`~.model.SagaSR` to a runtime bundle (ONNX or TorchScript graphs + manifest.json).

Graphs follow the contract of ``sagasr_stream.graphs.GRAPHS`` exactly (input and output names, their order,
dynamic axes): ``vae_encoder`` (audio -> latent mean), ``vae_decoder``, ``dit`` (8 inputs -> ``v``),
``text_encoder`` (input_ids, attention_mask int64 -> tokens). Batch, length and token axes are dynamic. Before tracing, a copy
of the model has its legacy weight-norm hooks folded, is in eval mode and has activation checkpointing off;
tracing runs with SAT's flash-attention path off (:func:`flash_attention_off`: plain scaled dot-product).
``fp16=True`` stores VAE/DiT weights in float16 while the graph inputs and outputs stay float32. ONNX graphs
then go through the value-preserving speed passes of :mod:`.optimize`.
"""
from __future__ import annotations

import contextlib
import copy
import shutil
import tempfile
import time
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import torch
from stable_audio_tools.models import transformer as sat_transformer
from stable_audio_tools.models.dit import DiffusionTransformer
from stable_audio_tools.models.transformer import LayerNorm as SatLayerNorm
from stable_audio_tools.models.transformer import RotaryEmbedding
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.weight_norm import WeightNorm

from sagasr_stream.bundle import Defaults, Manifest, write_manifest
from sagasr_stream.files import atomic_folder
from sagasr_stream.graphs import GRAPHS, SLOPE_INPUT

from .model.checkpoint import TEXT_SOURCE_KEY
from .model.conditioners import SagaConditioner
from .model import SagaSR, dit_velocity, latent_affine
from .optimize import optimize_graphs

OPSET = 17
EXTERNAL_DATA_BYTES = 1_800_000_000  # ONNX protobuf limit is 2 GB: bigger graphs get one external data file


class _Cast(nn.Module):
    """Holds only the parts one graph needs (a traced module keeps every weight it holds); float inputs are
    cast to ``dtype`` and outputs returned as float32."""

    def __init__(self, dtype: torch.dtype, **parts: nn.Module) -> None:
        super().__init__()
        self.dtype = dtype
        for name, part in parts.items():
            setattr(self, name, part)

    def _in(self, x: torch.Tensor) -> torch.Tensor:
        return x.to(self.dtype) if x.is_floating_point() else x


class _LatentGraph(_Cast):
    """A VAE half with the model's latent_shift/latent_scale ((C, 1) float32 buffers) folded into the graph."""

    shift: torch.Tensor  # buffers (register_buffer), declared for the type checker
    scale: torch.Tensor

    def __init__(self, dtype: torch.dtype, shift: torch.Tensor, scale: torch.Tensor, **modules: nn.Module) -> None:
        super().__init__(dtype, **modules)
        self.register_buffer("shift", shift.float())
        self.register_buffer("scale", scale.float())


class VaeEncoderGraph(_LatentGraph):
    """audio -> (posterior mean - shift) x scale."""

    encoder: nn.Module  # set by _Cast from its keyword parts

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        return (self.encoder(self._in(audio)).chunk(2, dim=1)[0].float() - self.shift) * self.scale


class VaeDecoderGraph(_LatentGraph):
    """latent / scale + shift -> audio."""

    decoder: nn.Module  # set by _Cast from its keyword parts

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        return self.decoder(self._in(latent / self.scale + self.shift)).float()


class DitGraph(_Cast):
    dit: DiffusionTransformer  # set by _Cast from its keyword parts
    conditioner: SagaConditioner
    lr_null: torch.Tensor  # a buffer

    def __init__(self, dtype: torch.dtype, dit: DiffusionTransformer, conditioner: SagaConditioner,
                 lr_null: float) -> None:
        super().__init__(dtype, dit=dit, conditioner=conditioner)
        self.register_buffer("lr_null", torch.tensor(lr_null, dtype=dtype))

    def forward(self, x: torch.Tensor, t: torch.Tensor, lr_latent: torch.Tensor, lr_keep: torch.Tensor,
                text_tokens: torch.Tensor, cross_keep: torch.Tensor, rolloff_in: torch.Tensor,
                rolloff_out: torch.Tensor, slope_in: torch.Tensor | None = None) -> torch.Tensor:
        c = self._in
        return dit_velocity(self.dit, self.conditioner, self.lr_null, c(x), c(t), c(lr_latent), c(lr_keep),
                            c(text_tokens), c(cross_keep), c(rolloff_in), c(rolloff_out),
                            None if slope_in is None else slope_in.float()).float()


class TextGraph(_Cast):
    text_encoder: nn.Module  # set by _Cast from its keyword parts

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.text_encoder(input_ids, attention_mask).float()


def remove_weight_norm(module: nn.Module) -> int:
    """Fold SAT Oobleck's legacy ``weight_norm`` hooks into plain weights; returns how many were removed."""
    count = 0
    for sub in module.modules():
        for hook in list(sub._forward_pre_hooks.values()):
            if isinstance(hook, WeightNorm):
                torch.nn.utils.remove_weight_norm(sub, hook.name)
                count += 1
    return count


class StaticLayerNorm(nn.Module):
    """SAT ``transformer.LayerNorm`` with a static normalized shape (SAT's uses ``x.shape[-1:]``, which the
    ONNX exporter sees as dynamic and refuses)."""

    gamma: torch.Tensor  # buffers (register_buffer), declared for the type checker
    beta: torch.Tensor

    def __init__(self, norm: SatLayerNorm) -> None:
        super().__init__()
        self.dim, self.eps, self.force_fp32 = int(norm.gamma.shape[0]), float(norm.eps), bool(norm.force_fp32)
        self.register_buffer("gamma", norm.gamma.detach().clone())
        self.register_buffer("beta", norm.beta.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.force_fp32:
            out = F.layer_norm(x.float(), (self.dim,), self.gamma.float(), self.beta.float(), self.eps)
            return out.to(x.dtype)
        return F.layer_norm(x, (self.dim,), self.gamma, self.beta, self.eps)


def swap_layer_norms(module: nn.Module) -> int:
    """Replace every SAT LayerNorm by :class:`StaticLayerNorm` (same parameters); returns the count."""
    count = 0
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, SatLayerNorm):
                setattr(parent, name, StaticLayerNorm(child))
                count += 1
    return count


@contextlib.contextmanager
def flash_attention_off() -> Iterator[None]:
    """SAT 0.0.19 picks flash-attn (which casts q/k/v to fp16 and cannot be exported) whenever the module-level
    ``flash_attn_func`` is set, i.e. whenever ``flash_attn`` is importable. Unset it for the duration (the
    attention then uses ``F.scaled_dot_product_attention``) and restore it afterwards."""
    saved = sat_transformer.flash_attn_func
    sat_transformer.flash_attn_func = None
    try:
        yield
    finally:
        sat_transformer.flash_attn_func = saved


def prepare_for_export(model: SagaSR, fp16: bool = False) -> SagaSR:
    """A deep copy in eval mode, on CPU, weight norm folded, no checkpointing; VAE/DiT in fp16 if asked (but for
    the rotary embeddings' frequencies, float32 as SAT computes them)."""
    prepared = SagaSR(model.config, text_encoder=copy.deepcopy(model.text_encoder))  # deepcopy fails on weight norm
    prepared.load_state_dict(model.state_dict())
    prepared = prepared.cpu().eval()
    prepared.use_checkpointing = False
    remove_weight_norm(prepared)
    swap_layer_norms(prepared)
    if fp16:
        for part in (prepared.autoencoder, prepared.dit, prepared.conditioner):
            part.half()
        for module in prepared.modules():  # SAT computes rotary angles in float32 (its positions are cast so):
            if isinstance(module, RotaryEmbedding):  # a float16 inv_freq makes an ONNX Einsum of mixed types
                module.float()
    return prepared


def example_inputs(model: SagaSR, batch: int = 2, frames: int | None = None) -> dict[str, tuple[torch.Tensor, ...]]:
    """Deterministic example inputs per graph (float32 / int64)."""
    cfg = model.config
    g = torch.Generator().manual_seed(0)
    frames = frames or cfg.latent_frames
    c, s, d = cfg.vae.latent_dim, cfg.text.max_tokens, model.text_encoder.dim
    ids, mask = model.tokenize(["an example caption"] * batch)
    return {
        "vae_encoder": (torch.randn(batch, 1, frames * cfg.downsampling, generator=g) * 0.1,),
        "vae_decoder": (torch.randn(batch, c, frames, generator=g),),
        "dit": (
            torch.randn(batch, c, frames, generator=g), torch.rand(batch, generator=g),
            torch.randn(batch, c, frames, generator=g), torch.ones(batch), torch.randn(batch, s, d, generator=g),
            torch.ones(batch), torch.rand(batch, generator=g), torch.rand(batch, generator=g),
            *((torch.rand(batch, generator=g) * -40,) if cfg.dit.slope_condition else ()),
        ),
        "text_encoder": (ids, mask),
    }


def graph_io(model: SagaSR, name: str) -> tuple[list[str], str, dict[str, dict[int, str]]]:
    """Graph ``name``'s input names in order (with the optional ones ``model`` has), output name and dynamic axes,
    from the runtime's graph table."""
    spec = GRAPHS[name]
    inputs = spec.inputs_with((SLOPE_INPUT,) if name == "dit" and model.config.dit.slope_condition else ())
    return [t.name for t in inputs], spec.output.name, {t.name: t.dynamic_axes() for t in (*inputs, spec.output)}


def graph_modules(model: SagaSR, fp16: bool = False) -> dict[str, nn.Module]:
    dtype = torch.float16 if fp16 else torch.float32
    return {
        "vae_encoder": VaeEncoderGraph(dtype, *latent_affine(model.config), encoder=model.autoencoder.encoder),
        "vae_decoder": VaeDecoderGraph(dtype, *latent_affine(model.config), decoder=model.autoencoder.decoder),
        "dit": DitGraph(dtype, model.dit, model.conditioner, float(model.config.lr_null_value)),
        "text_encoder": TextGraph(torch.float32, text_encoder=model.text_encoder),
    }


def _export_onnx(module: nn.Module, name: str, inputs: tuple[torch.Tensor, ...], out: Path, external: bool | None,
                 io: tuple[list[str], str, dict[str, dict[int, str]]]) -> str:
    import onnx

    in_names, out_name, axes = io
    filename = f"{name}.onnx"
    with tempfile.TemporaryDirectory(dir=out) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tmp_file = Path(tmp) / filename
        torch.onnx.export(module, inputs, str(tmp_file), input_names=list(in_names), output_names=[out_name],
                          dynamic_axes=axes, opset_version=OPSET, do_constant_folding=True, dynamo=False)
        extra = [p for p in Path(tmp).iterdir() if p.name != filename]
        size = sum(p.stat().st_size for p in Path(tmp).iterdir())
        if external or extra or (external is None and size > EXTERNAL_DATA_BYTES):
            graph = onnx.load(str(tmp_file), load_external_data=True)
            onnx.save_model(graph, str(out / filename), save_as_external_data=True, all_tensors_to_one_file=True,
                            location=f"{filename}.data", size_threshold=1024)
        else:
            shutil.move(str(tmp_file), out / filename)
    return filename


def _export_torchscript(module: nn.Module, name: str, inputs: tuple[torch.Tensor, ...], out: Path) -> str:
    filename = f"{name}.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(module, inputs, check_trace=False, strict=False)
    traced.save(str(out / filename))
    return filename


def model_defaults(model: SagaSR, defaults: Defaults | dict[str, Any] | None) -> Defaults:
    """The bundle's defaults: the config's, with ``defaults`` (a :class:`Defaults` or some of its fields) over
    them, validated (:class:`~sagasr_stream.errors.BundleError` or ValueError naming the field)."""
    if isinstance(defaults, Defaults):
        result = defaults
    else:
        merged = {**model.config.defaults, **(defaults or {})}
        unknown = sorted(set(merged) - set(Defaults.__dataclass_fields__))
        if unknown:
            raise ValueError(f"unknown default(s) {', '.join(unknown)} "
                             f"(known: {', '.join(Defaults.__dataclass_fields__)})")
        result = Defaults(**merged)
    result.validate("the bundle's defaults")
    result.check_rate(model.config.sample_rate, "the bundle's defaults")
    return result


def manifest_fields(model: SagaSR, graphs: dict[str, str], tokenizer: dict[str, Any] | None, backend: str,
                    defaults: Defaults | dict[str, Any] | None, provenance: dict[str, Any]) -> dict[str, Any]:
    """Every Manifest field except ``files`` for this model."""
    cfg = model.config
    defaults = model_defaults(model, defaults)
    hf_config = cfg.text.hf_config or {}
    encoder_name = "" if tokenizer is None else (  # no text encoder graph: name none
        cfg.text.path or hf_config.get(TEXT_SOURCE_KEY)
        or f"{cfg.text.kind} ({model.text_encoder.dim}-d, built from its config)")
    return {
        "name": cfg.name, "sample_rate": cfg.sample_rate, "window_samples": cfg.window_samples,
        "downsampling": cfg.downsampling, "latent_channels": cfg.vae.latent_dim, "graphs": graphs,
        "text": {"dim": model.text_encoder.dim, "max_tokens": cfg.text.max_tokens, "tokenizer": tokenizer,
                 "encoder_name": encoder_name},
        "defaults": asdict(defaults), "lr_null_value": float(cfg.lr_null_value), "input_peak": float(cfg.input_peak),
        "backend": backend, "slope_condition": cfg.dit.slope_condition, "description": cfg.description,
        "provenance": provenance,
    }


def quantize_int8(out: Path, graph_file: str, op_types: Sequence[str] = ("Gather",)) -> str:
    """Replace the ONNX graph ``out/graph_file`` by a copy whose ``op_types`` weights are int8 -> the new file name
    (``*.int8.onnx``).

    ``("Gather",)`` (the text encoder): embedding tables only; the MatMuls stay float32, because ONNX Runtime's
    dynamic int8 MatMul also quantises activations and moved MiniLM's tokens by 14-28 % (measured), the tables by
    3 %. ``("MatMul",)`` (the DiT, ``quantize_dit``): every MatMul with a constant weight runs as a dynamic int8
    MatMul (per-tensor weights, activations quantised per call); MatMuls of two activations (attention) stay
    float32. Speed and quality: benchmarks/speed_results.md."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    src = out / graph_file
    dst = src.with_name(src.stem + ".int8.onnx")
    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, op_types_to_quantize=list(op_types),
                     extra_options={"MatMulConstBOnly": True})
    src.unlink()
    data = src.with_name(src.name + ".data")
    if data.exists():
        data.unlink()
    return dst.name


def store_weights_fp16(out: Path, graph_file: str, min_elements: int = 1024) -> None:
    """Rewrite the ONNX graph ``out/graph_file`` in place so that its float32 initializers of at least
    ``min_elements`` values are stored as float16, each followed by a ``Cast`` back to float32: half the file,
    the same float32 arithmetic (ONNX Runtime folds the casts once at load), weights rounded to 11 bits."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    path = out / graph_file
    data = path.with_name(path.name + ".data")
    graph = onnx.load(str(path), load_external_data=True)
    casts, kept = [], []
    for init in graph.graph.initializer:
        if init.data_type != TensorProto.FLOAT or int(np.prod(init.dims)) < min_elements:
            kept.append(init)
            continue
        half = numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16), init.name + "__fp16")
        kept.append(half)
        casts.append(helper.make_node("Cast", [half.name], [init.name], to=TensorProto.FLOAT,
                                      name=init.name + "__to_fp32"))
    del graph.graph.initializer[:]
    graph.graph.initializer.extend(kept)
    nodes = casts + list(graph.graph.node)
    del graph.graph.node[:]
    graph.graph.node.extend(nodes)
    if data.exists():
        data.unlink()
        onnx.save_model(graph, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=data.name, size_threshold=1024)
    else:
        onnx.save_model(graph, str(path))


def export_bundle(model: SagaSR, out_dir: str | Path, backend: str = "onnx", fp16: bool = False,
                  defaults: Defaults | dict[str, Any] | None = None, text_encoder: bool = True,
                  external_data: bool | None = None, overwrite: bool = False, quantize_text: bool = False,
                  store_fp16: bool = False, quantize_dit: bool = False) -> Manifest:
    """Write the bundle folder ``out_dir`` (graphs, tokenizer file, manifest.json) and return its manifest.
    The bundle is written into a hidden folder beside ``out_dir`` and renamed into place when complete: a
    failed export leaves no partial bundle, and ``overwrite`` replaces an existing one only then.

    ``backend``: "onnx" (opset 17, TorchScript-based exporter) or "torchscript" (traced ``*.pt``).
    ``external_data``: None = only for graphs over ~1.8 GB (the full-size DiT), True = always (ONNX).
    ``defaults``: sampling defaults (:class:`sagasr_stream.bundle.Defaults` or a dict of its fields).
    ``quantize_text``: store the ONNX text encoder's embedding tables as int8 (:func:`quantize_int8`; MiniLM:
    90 -> 55 MB, tokens within about 3 %).
    ``store_fp16``: store every graph's float32 weights as float16, computed in float32
    (:func:`store_weights_fp16`; half the size; for ``fp16`` graphs it changes nothing).
    ``quantize_dit``: the DiT's weight MatMuls as dynamic int8 (:func:`quantize_int8`; a quarter of its float32
    size; its weights are then int8, not float16, whatever ``store_fp16``).
    """
    if quantize_text and (backend != "onnx" or not text_encoder):
        raise ValueError("quantize_text needs the ONNX backend and the text encoder graph")
    if quantize_dit and (backend != "onnx" or fp16):
        raise ValueError("quantize_dit needs the ONNX backend and float32 weights (not fp16)")
    if store_fp16 and backend != "onnx":
        raise ValueError("store_fp16 needs the ONNX backend")
    if backend not in ("onnx", "torchscript"):
        raise ValueError(f"backend must be 'onnx' or 'torchscript', got {backend!r}")
    final = Path(out_dir)
    if final.exists() and not final.is_dir():
        raise FileExistsError(f"{final} exists and is not a folder")
    if final.is_dir() and any(final.iterdir()) and not overwrite:
        raise FileExistsError(f"{final} exists and is not empty (pass overwrite=True)")
    if model_defaults(model, defaults).caption and not text_encoder:  # a bad default fails here, before tracing
        raise ValueError("a default caption needs the text encoder graph (drop the caption, or text_encoder=True "
                         "/ no --no-text-encoder)")
    with atomic_folder(final) as out:
        return _write_bundle(model, out, backend, fp16, defaults, text_encoder, external_data, quantize_text,
                             store_fp16, quantize_dit)


def _write_bundle(model: SagaSR, out: Path, backend: str, fp16: bool, defaults: Defaults | dict[str, Any] | None,
                  text_encoder: bool, external_data: bool | None, quantize_text: bool, store_fp16: bool,
                  quantize_dit: bool) -> Manifest:
    """:func:`export_bundle`'s work, into the empty folder ``out``."""
    prepared = prepare_for_export(model, fp16=fp16)
    modules = graph_modules(prepared, fp16=fp16)
    inputs = example_inputs(prepared)
    names = ["vae_encoder", "vae_decoder", "dit"] + (["text_encoder"] if text_encoder else [])
    graphs, timings = {}, {}
    with torch.no_grad(), flash_attention_off():
        for name in names:
            start = time.perf_counter()
            if backend == "onnx":
                graphs[name] = _export_onnx(modules[name], name, inputs[name], out, external_data,
                                             graph_io(prepared, name))
            else:
                graphs[name] = _export_torchscript(modules[name], name, inputs[name], out)
            timings[name] = round(time.perf_counter() - start, 3)
    if quantize_text:
        graphs["text_encoder"] = quantize_int8(out, graphs["text_encoder"])
    if quantize_dit:
        graphs["dit"] = quantize_int8(out, graphs["dit"], op_types=("MatMul",))
    if store_fp16:
        for graph_file in graphs.values():
            store_weights_fp16(out, graph_file)
    graph_passes = optimize_graphs(out, list(graphs.values())) if backend == "onnx" else {}
    tokenizer = prepared.text_encoder.write_tokenizer(out) if text_encoder else None
    provenance: dict[str, Any] = {
        "exporter": "sagasr_export", "torch": torch.__version__, "opset": OPSET if backend == "onnx" else None,
        "fp16": fp16, "text_int8": quantize_text, "dit_int8": quantize_dit,
        "weights_fp16": store_fp16, "export_seconds": timings, "graph_passes": graph_passes,
        "config": model.config.to_dict()}
    provenance["config"]["text"]["vocab"] = None  # the vocabulary travels as the tokenizer file
    return write_manifest(out, manifest_fields(prepared, graphs, tokenizer, backend, defaults, provenance))
