"""Tiny, untrained bundles built directly as ONNX graphs (needs the ``onnx`` package).

They follow the bundle contract exactly and make every conditioning input matter, so tests can check
plumbing, determinism, batching, streaming and seams without torch. They restore nothing meaningful.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .bundle import Defaults, Manifest, TextSpec, write_manifest
from .errors import SagasrError
from .graphs import GRAPHS, SLOPE_INPUT, TensorSpec

if TYPE_CHECKING:  # onnx is imported where a graph is built (a test dependency, not the runtime's)
    from onnx import GraphProto, TensorProto, ValueInfoProto

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "piano", "drums", "guitar", "strings", "bright", "warm", "music", "##s", ".", ","]


def _tensor(name: str, array: np.ndarray) -> TensorProto:
    from onnx import numpy_helper

    return numpy_helper.from_array(np.ascontiguousarray(array), name)


def _io(graph: str, sizes: dict[str, int],
        optional: tuple[str, ...] = ()) -> tuple[list[ValueInfoProto], list[ValueInfoProto]]:
    """ONNX value infos of ``graph``'s inputs (with the ``optional`` ones named) and output from
    :data:`~sagasr_stream.graphs.GRAPHS`."""
    from onnx import helper

    def info(tensor: TensorSpec) -> ValueInfoProto:
        elem = helper.np_dtype_to_tensor_dtype(np.dtype(tensor.dtype))
        return helper.make_tensor_value_info(tensor.name, elem, tensor.shape(sizes))

    spec = GRAPHS[graph]
    return [info(t) for t in spec.inputs_with(optional)], [info(spec.output)]


def _save(graph: GraphProto, path: Path) -> None:
    import onnx
    from onnx import helper

    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="sagasr_stream.testing")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def _vae_graphs(ds: int, channels: int, rng: np.random.Generator) -> tuple[GraphProto, GraphProto]:
    from onnx import helper

    w_enc = (rng.standard_normal((ds, channels)) / np.sqrt(ds)).astype(np.float32)
    w_dec = np.linalg.pinv(w_enc).astype(np.float32)
    encoder = helper.make_graph(
        [
            helper.make_node("Reshape", ["audio", "frames_shape"], ["frames"]),
            helper.make_node("MatMul", ["frames", "w_enc"], ["projected"]),
            helper.make_node("Transpose", ["projected"], ["latent"], perm=[0, 2, 1]),
        ],
        "vae_encoder",
        *_io("vae_encoder", {"channels": channels}),
        [_tensor("frames_shape", np.array([0, -1, ds], dtype=np.int64)), _tensor("w_enc", w_enc)],
    )
    decoder = helper.make_graph(
        [
            helper.make_node("Transpose", ["latent"], ["frames_first"], perm=[0, 2, 1]),
            helper.make_node("MatMul", ["frames_first", "w_dec"], ["frames"]),
            helper.make_node("Reshape", ["frames", "audio_shape"], ["audio"]),
        ],
        "vae_decoder",
        *_io("vae_decoder", {"channels": channels}),
        [_tensor("audio_shape", np.array([0, 1, -1], dtype=np.int64)), _tensor("w_dec", w_dec)],
    )
    return encoder, decoder


def _text_graph(dim: int, rng: np.random.Generator) -> GraphProto:
    from onnx import TensorProto, helper

    embedding = rng.standard_normal((len(VOCAB), dim)).astype(np.float32)
    return helper.make_graph(
        [
            helper.make_node("Gather", ["embedding", "input_ids"], ["embedded"]),
            helper.make_node("Cast", ["attention_mask"], ["mask_f"], to=TensorProto.FLOAT),
            helper.make_node("Unsqueeze", ["mask_f", "last_axis"], ["mask_3d"]),
            helper.make_node("Mul", ["embedded", "mask_3d"], ["tokens"]),
        ],
        "text_encoder",
        *_io("text_encoder", {"text_dim": dim}),
        [_tensor("embedding", embedding), _tensor("last_axis", np.array([-1], dtype=np.int64))],
    )


def _dit_graph(channels: int, text_dim: int, null_value: float, rng: np.random.Generator,
               slope_rng: np.random.Generator | None = None) -> GraphProto:
    """v = tanh(conv3([x, lr_eff]) + cond) with cond from t, both roll-offs and the pooled text (x cross_keep),
    and, given ``slope_rng`` (which draws its weights), from the input ``slope_in`` (dB/octave) / 40 too."""
    from onnx import helper

    c = channels
    conv_w = (rng.standard_normal((c, 2 * c, 3)) * 0.3 / np.sqrt(6 * c)).astype(np.float32)
    text_proj = (rng.standard_normal((text_dim, c)) * 0.5 / np.sqrt(text_dim)).astype(np.float32)
    scalar_w = (rng.standard_normal((3, c)) * 0.5).astype(np.float32)  # t, rolloff_in, rolloff_out
    inits = [
        _tensor("conv_w", conv_w), _tensor("text_proj", text_proj), _tensor("scalar_w", scalar_w),
        _tensor("one", np.array(1.0, dtype=np.float32)), _tensor("null", np.array(null_value, dtype=np.float32)),
        _tensor("axes_12", np.array([1, 2], dtype=np.int64)), _tensor("axis_1", np.array([1], dtype=np.int64)),
        _tensor("axis_2", np.array([2], dtype=np.int64)),
    ]
    nodes = [
        # lr_eff = lr * keep + null * (1 - keep)
        helper.make_node("Unsqueeze", ["lr_keep", "axes_12"], ["keep3"]),
        helper.make_node("Mul", ["lr_latent", "keep3"], ["lr_kept"]),
        helper.make_node("Sub", ["one", "keep3"], ["drop3"]),
        helper.make_node("Mul", ["null", "drop3"], ["lr_null"]),
        helper.make_node("Add", ["lr_kept", "lr_null"], ["lr_eff"]),
        helper.make_node("Concat", ["x", "lr_eff"], ["stacked"], axis=1),
        helper.make_node("Conv", ["stacked", "conv_w"], ["mixed"], pads=[1, 1]),
        # pooled text tokens, gated by cross_keep
        helper.make_node("ReduceMean", ["text_tokens"], ["pooled"], axes=[1], keepdims=0),
        helper.make_node("MatMul", ["pooled", "text_proj"], ["text_c"]),
        helper.make_node("Unsqueeze", ["cross_keep", "axis_1"], ["cross2"]),
        helper.make_node("Mul", ["text_c", "cross2"], ["text_gated"]),
        # scalar conditions
        helper.make_node("Unsqueeze", ["t", "axis_1"], ["t2"]),
        helper.make_node("Unsqueeze", ["rolloff_in", "axis_1"], ["rin2"]),
        helper.make_node("Unsqueeze", ["rolloff_out", "axis_1"], ["rout2"]),
        helper.make_node("Concat", ["t2", "rin2", "rout2"], ["scalars"], axis=1),
        helper.make_node("MatMul", ["scalars", "scalar_w"], ["scalar_c"]),
        helper.make_node("Add", ["scalar_c", "text_gated"], ["cond_base"]),
        helper.make_node("Unsqueeze", ["cond", "axis_2"], ["cond3"]),
        helper.make_node("Add", ["mixed", "cond3"], ["pre"]),
        helper.make_node("Tanh", ["pre"], ["v"]),
    ]
    if slope_rng is not None:  # a generator of its own: the other weights are those of a bundle without it
        inits.append(_tensor("slope_w", (slope_rng.standard_normal((1, c)) * 0.5 / 40).astype(np.float32)))
        nodes[-3:-3] = [helper.make_node("Unsqueeze", ["slope_in", "axis_1"], ["slope2"]),
                        helper.make_node("MatMul", ["slope2", "slope_w"], ["slope_c"]),
                        helper.make_node("Add", ["cond_base", "slope_c"], ["cond"])]
    else:
        nodes[-3:-3] = [helper.make_node("Identity", ["cond_base"], ["cond"])]
    optional = (SLOPE_INPUT,) if slope_rng is not None else ()
    return helper.make_graph(nodes, "dit", *_io("dit", {"channels": c, "text_dim": text_dim}, optional), inits)


def build_tiny_bundle(
    folder: str | os.PathLike[str],
    window_samples: int = 8192,
    downsampling: int = 256,
    latent_channels: int = 8,
    text_dim: int = 16,
    max_tokens: int = 8,
    with_text: bool = True,
    seed: int = 0,
    steps: int = 4,
    slope_condition: bool = False,
) -> Path:
    """Write a tiny random bundle into ``folder`` and return the folder (needs ``onnx``: a SagasrError says so).
    ``slope_condition``: its DiT takes ``slope_in`` too (its other weights unchanged)."""
    try:
        import onnx  # noqa: F401
    except ImportError as exc:  # the runtime does not install it; say how, before anything is written
        raise SagasrError(
            f"building a test bundle needs the onnx package, which the runtime does not install: "
            f"pip install 'onnx>=1.15' (or the 'dev' extra) ({exc})"
        ) from exc
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    null_value = -5.0
    encoder, decoder = _vae_graphs(downsampling, latent_channels, rng)
    _save(encoder, folder / "vae_encoder.onnx")
    _save(decoder, folder / "vae_decoder.onnx")
    _save(_dit_graph(latent_channels, text_dim, null_value, rng,
                     np.random.default_rng([seed, 1]) if slope_condition else None), folder / "dit.onnx")
    graphs = {"vae_encoder": "vae_encoder.onnx", "vae_decoder": "vae_decoder.onnx", "dit": "dit.onnx"}
    text = TextSpec(text_dim, max_tokens, None, "")
    if with_text:
        _save(_text_graph(text_dim, rng), folder / "text_encoder.onnx")
        (folder / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
        graphs["text_encoder"] = "text_encoder.onnx"
        text = TextSpec(text_dim, max_tokens, {"kind": "wordpiece", "file": "vocab.txt", "lowercase": True}, "tiny-random")
    manifest = dict(
        name="tiny-random",
        description="Untrained random test model built by sagasr_stream.testing: it restores nothing.",
        sample_rate=44100,
        window_samples=window_samples,
        downsampling=downsampling,
        latent_channels=latent_channels,
        graphs=graphs,
        text=text,
        defaults=Defaults(steps=steps, target_rolloff_hz=16000.0, caption="music" if with_text else ""),
        lr_null_value=null_value,
        slope_condition=slope_condition,
        provenance={"builder": "sagasr_stream.testing.build_tiny_bundle", "seed": seed},
    )
    write_manifest(folder, manifest)
    return folder


__all__ = ["build_tiny_bundle", "Manifest"]
