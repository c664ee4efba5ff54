"""The model backend interface: the four graphs of a bundle as numpy functions.

Names, shapes and dtypes follow :data:`sagasr_stream.graphs.GRAPHS`: audio (B, 1, L), latents (B, C, T),
tokens (B, S, D); float32.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Protocol, runtime_checkable

import numpy as np

from ..graphs import DIT_INPUTS, SLOPE_INPUT  # noqa: F401  (DIT_INPUTS re-exported: the DiT input order of velocity())

if TYPE_CHECKING:
    from ..bundle import Manifest


@runtime_checkable
class Backend(Protocol):
    """What the sampler needs from a model. Implementations: ONNX Runtime and TorchScript."""

    #: human-readable description of where the graphs run, e.g. "onnxruntime CPUExecutionProvider"
    device: str

    def encode(self, audio: np.ndarray) -> np.ndarray:
        """(B, 1, L) float32 audio -> (B, C, L / downsampling) latent (posterior mean)."""
        ...

    def decode(self, latent: np.ndarray) -> np.ndarray:
        """(B, C, T) latent -> (B, 1, T * downsampling) audio."""
        ...

    def velocity(
        self,
        x: np.ndarray,
        t: np.ndarray,
        lr_latent: np.ndarray,
        lr_keep: np.ndarray,
        text_tokens: np.ndarray,
        cross_keep: np.ndarray,
        rolloff_in: np.ndarray,
        rolloff_out: np.ndarray,
        slope_in: np.ndarray | None = None,
    ) -> np.ndarray:
        """One DiT evaluation for B rows: -> (B, C, T) velocity (noise - x0). ``slope_in`` (B,) dB/octave: given
        exactly when the bundle's DiT takes it (manifest ``slope_condition``)."""
        ...

    def encode_text(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """(B, S) int64 token ids and mask -> (B, S, D) float32 tokens, zero where the mask is 0."""
        ...


def dit_values(manifest: Manifest, values: tuple[np.ndarray, ...],
               slope_in: np.ndarray | None) -> tuple[np.ndarray, ...]:
    """The DiT's input arrays in feeding order (:meth:`~sagasr_stream.bundle.Manifest.graph_inputs`): ``values``,
    then ``slope_in`` where the bundle's DiT takes it; :class:`~sagasr_stream.errors.ParameterError` when it is
    given to a DiT without that input or left out for one with it."""
    from ..errors import ParameterError

    if (slope_in is not None) != manifest.slope_condition:
        raise ParameterError(f"model {manifest.name!r}: slope_in must be given exactly when the DiT takes it "
                             f"(manifest slope_condition {manifest.slope_condition})")
    return values if slope_in is None else (*values, slope_in)


def slope_hint(graph: str, inputs: set[str], slope_condition: bool) -> str:
    """A hint for a DiT graph whose ``slope_in`` input disagrees with the manifest's ``slope_condition``."""
    if graph != "dit" or (SLOPE_INPUT in inputs) == slope_condition:
        return ""
    return (f" (the manifest's slope_condition is {str(slope_condition).lower()}, but the graph "
            f"{'lacks' if slope_condition else 'takes'} {SLOPE_INPUT!r})")


def check_finite_output(out: np.ndarray, graph: str, model: str) -> np.ndarray:
    """Return ``out`` when every value is finite; else raise :class:`BundleError` naming the graph."""
    if not np.isfinite(out).all():
        from ..errors import BundleError

        bad = int((~np.isfinite(out)).sum())
        raise BundleError(
            f"graph {graph!r} of model {model!r} produced {bad} non-finite value(s) (NaN/Inf): the bundle is "
            "damaged or the model diverged on this input"
        )
    return out


def check_vae_lengths(encode: Callable[[np.ndarray], np.ndarray], decode: Callable[[np.ndarray], np.ndarray],
                      manifest: Manifest, frames: int = 2) -> None:
    """Run both VAE halves once on ``frames`` latent frames of silence and raise :class:`BundleError` unless they
    map ``frames * downsampling`` samples to ``(latent_channels, frames)`` and back, as the manifest says (a wrong
    ``downsampling`` would otherwise restore without an error, with the windows' noise misplaced)."""
    from ..errors import BundleError

    ds, channels = manifest.downsampling, manifest.latent_channels

    def run(graph: str, fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> np.ndarray:
        try:
            return fn(x)
        except BundleError:
            raise
        except Exception as exc:  # onnxruntime / torch raise their own types
            raise BundleError(f"graph {graph!r} cannot run on {frames} latent frames ({frames * ds} samples: the "
                              f"manifest's downsampling {ds}, {channels} channels): {_last_line(exc)}") from exc

    latent = run("vae_encoder", encode, np.zeros((1, 1, frames * ds), np.float32))
    if tuple(latent.shape) != (1, channels, frames):
        raise BundleError(
            f"graph 'vae_encoder' maps {frames * ds} samples to a latent of shape {tuple(latent.shape[1:])}; the "
            f"manifest's downsampling {ds} and latent_channels {channels} say ({channels}, {frames})"
        )
    audio = run("vae_decoder", decode, np.zeros((1, channels, frames), np.float32))
    if tuple(audio.shape) != (1, 1, frames * ds):
        raise BundleError(
            f"graph 'vae_decoder' maps {frames} latent frames to audio of shape {tuple(audio.shape[1:])}; the "
            f"manifest's downsampling {ds} says (1, {frames * ds})"
        )


def _last_line(exc: BaseException) -> str:
    """The last line of an error's message (TorchScript's carry the whole serialized traceback before it)."""
    lines = str(exc).strip().splitlines()
    return lines[-1] if lines else type(exc).__name__
