"""Corpus-scale restoration on Ray (``pip install "ray>=2.9"``, the ``ray`` extra): :func:`restore_batch` and
``sagasr batch``. Long files are split into window-aligned segments (:mod:`.segments`) and stitched back
bit-identical to the single-process restore; a JSON-lines manifest in the output folder makes reruns resume.

Modules: :mod:`.segments` (exact segment maths), :mod:`.jobs` (what a worker does, no Ray), :mod:`.worker`
(the actor class), :mod:`.manifest` (the run manifest), :mod:`.inputs` (discovery, output paths),
:mod:`.runner` (the driver); the command is :mod:`sagasr_stream.cli.batch`. Each worker holds one
:class:`~sagasr_stream.restorer.Restorer`. Importing this package is cheap: the driver loads
on first use of :func:`restore_batch`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the types a checker sees; at run time the driver loads on first use (__getattr__)
    from .runner import BatchSummary, restore_batch

__all__ = ["BatchSummary", "restore_batch"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import runner

        return getattr(runner, name)
    raise AttributeError(name)
