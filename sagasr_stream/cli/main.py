"""The ``sagasr`` parser and entry point: each verb group registers itself from its module."""
from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from ..errors import SagasrError
from .batch import add_batch_command
from .bench import add_bench_command
from .bundle import add_bundle_commands, cmd_export
from .restore import add_restore_command


def build_parser() -> argparse.ArgumentParser:
    """The parser of every verb: restore (alias upsample), info, bench, make-test-model, export, batch, eval, live."""
    from .. import __version__

    parser = argparse.ArgumentParser(prog="sagasr", description="SAGA-SR audio bandwidth extension")
    parser.add_argument("--version", action="version", version=f"sagasr {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    add_restore_command(sub)
    add_bundle_commands(sub)
    add_bench_command(sub)
    add_batch_command(sub)
    _add_optional_commands(sub)
    return parser


def _add_optional_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Commands whose modules may be absent or need extras: evaluation and live audio."""
    try:
        from .eval import add_eval_command
    except ImportError:
        pass
    else:
        add_eval_command(sub)
    try:
        from .live import add_live_command
    except ImportError:
        pass
    else:
        add_live_command(sub)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``sagasr`` command; returns the exit status (2 for a usage or input error)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["export"]:
        return cmd_export(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:  # partial outputs are already removed by the atomic writer
        print("interrupted (no partial output was kept)", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `sagasr info ... | head`: the reader left; no traceback, nothing more to print
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # Python's exit flush must not raise again
        return 141
    except (SagasrError, ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
