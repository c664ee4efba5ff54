"""Options shared by the verbs that run the model: which model (``--model``, ``--provider``,
``--allow-torchscript``) and the restore settings, whose flags come from
:class:`~sagasr_stream.settings.RestoreSettings`'s fields (:mod:`sagasr_stream.cli.fields`)."""
from __future__ import annotations

import argparse

from ..settings import RestoreSettings
from .fields import Flag, add_flags, dataclass_flags, flag_values

#: one flag per RestoreSettings field (plus hidden deprecated spellings, e.g. ``--target-rolloff``)
RESTORE_FLAGS: list[Flag] = dataclass_flags(RestoreSettings)


def add_model_options(p: argparse.ArgumentParser) -> None:
    """``--model``, ``--provider``, ``--allow-torchscript``: which bundle to load and where it runs."""
    p.add_argument("--model", help="bundle folder or archive (default: the embedded model)")
    p.add_argument("--provider", default="auto", choices=["auto", "cpu", "cuda"], help="ONNX Runtime provider")
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
                   help="the inputs' known bandwidth: band edges are never placed above it, so a low-pass the "
                        "detector cannot see (low or gentle, e.g. 2-3 kHz) is restored from there; default: detected")


def settings_from_args(args: argparse.Namespace) -> RestoreSettings:
    """The :class:`RestoreSettings` of the parsed restore flags (a flag not given keeps the default)."""
    return RestoreSettings().with_(**flag_values(args, RESTORE_FLAGS))
