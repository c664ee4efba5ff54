"""Options shared by the verbs that run the model: which model (``--model``, ``--provider``,
``--allow-torchscript``) and the restore settings, whose flags come from
:class:`~sagasr_stream.settings.RestoreSettings`'s fields (:mod:`sagasr_stream.cli.fields`)."""
from __future__ import annotations

import argparse
import math
from typing import Callable

from ..formats import OUTPUT_BIT_DEPTHS
from ..settings import RestoreSettings
from .fields import Flag, add_flags, dataclass_flags, flag_values

#: one flag per RestoreSettings field (plus hidden deprecated spellings, e.g. ``--target-rolloff``)
RESTORE_FLAGS: list[Flag] = dataclass_flags(RestoreSettings)


def number_type(convert: Callable[[str], float], what: str, ok: Callable[[float], bool], rule: str
                ) -> Callable[[str], float]:
    """An argparse type: ``convert(text)`` (``int`` or ``float``), refused as "expected WHAT" when it does not
    parse and as "must be RULE" when ``ok(value)`` is false (a usage error, exit 2)."""

    def parse(text: str) -> float:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"must be {rule}, got {text!r}")
        return value

    return parse


positive_int = number_type(int, "a whole number", lambda v: v >= 1, ">= 1")
non_negative = number_type(float, "a number", lambda v: v >= 0, ">= 0")  # NaN fails v >= 0
positive_seconds = number_type(float, "a number of seconds", lambda v: math.isfinite(v) and v > 0,
                               "a number of seconds > 0")


def add_model_options(p: argparse.ArgumentParser) -> None:
    """``--model``, ``--provider``, ``--allow-torchscript``: which bundle to load and where it runs."""
    p.add_argument("--model", help="bundle folder or archive (default: the embedded model)")
    p.add_argument("--provider", default="auto", choices=["auto", "cpu", "cuda"],
                   help="ONNX Runtime provider (default auto: the CPU; cuda needs onnxruntime-gpu)")
    p.add_argument("--allow-torchscript", action="store_true",
                   help="load a TorchScript bundle (it runs code from its files: only bundles you trust)")


def add_restore_options(p: argparse.ArgumentParser) -> None:
    """The model options and one flag per restore setting."""
    add_model_options(p)
    add_flags(p.add_argument_group("restore settings"), RESTORE_FLAGS)


def add_band_limit_option(p: argparse.ArgumentParser) -> None:
    """``--band-limit HZ``: the inputs' known bandwidth (:class:`~sagasr_stream.restorer.Restorer`'s
    ``band_limit_hz``)."""
    p.add_argument("--band-limit", type=float, metavar="HZ",
                   help="the inputs' known bandwidth (>= 1000): band edges are never placed above it, so a low-pass "
                        "the detector cannot see (low or gentle, e.g. 2-3 kHz) is restored from there; default: "
                        "detected")


def add_bit_depth_option(p: argparse.ArgumentParser) -> None:
    """``--bit-depth BITS``: the outputs' sample format (:func:`~sagasr_stream.formats.output_bit_depth`)."""
    p.add_argument("--bit-depth", type=int, choices=OUTPUT_BIT_DEPTHS, metavar="BITS",
                   help="bits per output sample: 16 (TPDF-dithered), 24, or 32 (float, WAV only); default 32 for "
                        "WAV, 24 for FLAC and AIFF (integer outputs have samples over full scale limited); none for "
                        "MP3 and Ogg (see --quality)")


def add_quality_option(p: argparse.ArgumentParser) -> None:
    """``--quality Q``: the encoder quality of MP3 / Ogg Vorbis outputs
    (:func:`~sagasr_stream.formats.output_quality`)."""
    p.add_argument("--quality", metavar="Q",
                   help="quality of lossy outputs: MP3 V0..V9 (LAME VBR) or 32..320 (kbps, CBR), Ogg Vorbis 64..500 "
                        "(kbps); default the highest, 320 (its encoder cuts above 20 kHz) and 500 (the whole band)")


FORMATS = ["wav", "flac", "aiff", "mp3", "ogg"]  # --format: the output formats of a folder's files


def sample_rate_hz(text: str) -> int:
    """argparse type: a whole number of Hz in the range every sample rate must be in
    (:func:`~sagasr_stream.validation.check_sample_rate`), so a bad rate is a usage error (exit 2)."""
    from ..validation import MAX_RATE, MIN_RATE, check_sample_rate

    try:
        return check_sample_rate(int(text))
    except ValueError:  # int() and check_sample_rate's AudioInputError
        raise argparse.ArgumentTypeError(f"expected a whole number of Hz in {MIN_RATE}..{MAX_RATE}, "
                                         f"got {text!r}") from None


def settings_from_args(args: argparse.Namespace) -> RestoreSettings:
    """The :class:`RestoreSettings` of the parsed restore flags (a flag not given keeps the default)."""
    return RestoreSettings().with_(**flag_values(args, RESTORE_FLAGS))
