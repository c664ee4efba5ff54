"""The graph contract of a model bundle, declared once: each graph's ordered inputs and its output, with
axes and dtypes. The exporter, the backends, the tiny test-bundle builder and the manifest check all read it.

Axes are named; ``batch``, ``samples``, ``frames`` and ``tokens`` are dynamic, the others are fixed by the
manifest (``channels`` = ``latent_channels``, ``text_dim`` = ``text.dim``) or literal (``1``).

- ``vae_encoder``: ``audio`` (B, 1, L) -> ``latent`` (B, C, L / downsampling)   (the posterior mean)
- ``vae_decoder``: ``latent`` (B, C, T) -> ``audio`` (B, 1, T * downsampling)
- ``dit``: ``x`` (B, C, T), ``t`` (B,) in [0, 1] (1 = pure noise), ``lr_latent`` (B, C, T),
  ``lr_keep`` (B,) in {0, 1} (0 replaces ``lr_latent`` by the null value inside the graph),
  ``text_tokens`` (B, S, D), ``cross_keep`` (B,) in {0, 1} (0 zeroes every cross-attention token),
  ``rolloff_in`` (B,), ``rolloff_out`` (B,) (ratios in [0, 1]) -> ``v`` (B, C, T), the velocity noise - x0;
  optionally (manifest ``slope_condition``) ``slope_in`` (B,) last: the input window's slope below its band edge,
  dB/octave (:func:`sagasr_stream.replication.window_slope`).
- ``text_encoder`` (optional): ``input_ids`` (B, S) int64, ``attention_mask`` (B, S) int64 -> ``tokens``
  (B, S, D) float32, already zero where the mask is 0.

Everything else is float32.
"""
from __future__ import annotations

from dataclasses import dataclass

from .errors import ParameterError

#: axes whose length changes from call to call (exported as dynamic axes)
DYNAMIC_AXES = ("batch", "samples", "frames", "tokens")


@dataclass(frozen=True)
class TensorSpec:
    """One graph input or output: its name, named axes (a literal int for a fixed size) and numpy dtype name."""

    name: str
    axes: tuple[str | int, ...]
    dtype: str = "float32"

    def dynamic_axes(self) -> dict[int, str]:
        """{axis index: axis name} of the dynamic axes (the exporter's ``dynamic_axes`` entry)."""
        return {i: a for i, a in enumerate(self.axes) if a in DYNAMIC_AXES}

    def shape(self, sizes: dict[str, int]) -> list[str | int]:
        """The shape with fixed named axes replaced by ``sizes`` (dynamic axes keep their names)."""
        return [a if isinstance(a, int) or a in DYNAMIC_AXES else sizes[a] for a in self.axes]


@dataclass(frozen=True)
class GraphSpec:
    """One graph: ordered inputs (the order the backends feed them), its single output, and whether a bundle
    must hold it."""

    name: str
    inputs: tuple[TensorSpec, ...]
    output: TensorSpec
    required: bool = True
    optional_inputs: tuple[TensorSpec, ...] = ()  # after ``inputs``, in this order, where the manifest says so

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.inputs)

    def inputs_with(self, optional: tuple[str, ...] = ()) -> tuple[TensorSpec, ...]:
        """``inputs``, then those of :attr:`optional_inputs` named in ``optional`` (:class:`~.errors.ParameterError`
        for another name)."""
        unknown = set(optional) - {t.name for t in self.optional_inputs}
        if unknown:
            raise ParameterError(f"graph {self.name!r} has no optional input(s) {sorted(unknown)}")
        return (*self.inputs, *(t for t in self.optional_inputs if t.name in optional))

    def dynamic_axes(self) -> dict[str, dict[int, str]]:
        """{tensor name: {axis index: axis name}} for every input and the output."""
        return {t.name: t.dynamic_axes() for t in (*self.inputs, self.output)}


def _batch(name: str) -> TensorSpec:
    return TensorSpec(name, ("batch",))


_AUDIO = TensorSpec("audio", ("batch", 1, "samples"))
_LATENT = TensorSpec("latent", ("batch", "channels", "frames"))

GRAPHS: dict[str, GraphSpec] = {
    "vae_encoder": GraphSpec("vae_encoder", (_AUDIO,), _LATENT),
    "vae_decoder": GraphSpec("vae_decoder", (_LATENT,), _AUDIO),
    "dit": GraphSpec(
        "dit",
        (
            TensorSpec("x", ("batch", "channels", "frames")),
            _batch("t"),
            TensorSpec("lr_latent", ("batch", "channels", "frames")),
            _batch("lr_keep"),
            TensorSpec("text_tokens", ("batch", "tokens", "text_dim")),
            _batch("cross_keep"),
            _batch("rolloff_in"),
            _batch("rolloff_out"),
        ),
        TensorSpec("v", ("batch", "channels", "frames")),
        optional_inputs=(_batch("slope_in"),),
    ),
    "text_encoder": GraphSpec(
        "text_encoder",
        (TensorSpec("input_ids", ("batch", "tokens"), "int64"), TensorSpec("attention_mask", ("batch", "tokens"), "int64")),
        TensorSpec("tokens", ("batch", "tokens", "text_dim")),
        required=False,
    ),
}

#: every graph a bundle may hold, and those it must hold
GRAPH_NAMES = tuple(GRAPHS)
REQUIRED_GRAPHS = tuple(name for name, spec in GRAPHS.items() if spec.required)
#: the DiT's inputs in the order :meth:`~sagasr_stream.backends.base.Backend.velocity` takes them
DIT_INPUTS = GRAPHS["dit"].input_names
SLOPE_INPUT = "slope_in"  # the DiT's optional input of a bundle with ``slope_condition``
