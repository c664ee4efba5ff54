"""``python -m sagasr_export.optimize_cli BUNDLE OUT``: write an optimised copy of an ONNX bundle
(:func:`sagasr_export.optimize.optimize_bundle`: the same outputs, faster graphs; the source is left unchanged)."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

from sagasr_stream.errors import SagasrError

from .optimize import optimize_bundle


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m sagasr_export.optimize_cli",
                                description="Write an optimised copy of an ONNX bundle (same outputs, faster graphs).")
    p.add_argument("bundle", help="the bundle folder to read (left unchanged)")
    p.add_argument("out", help="a new folder for the optimised bundle")
    args = p.parse_args(argv)
    try:
        manifest = optimize_bundle(args.bundle, args.out)
    except (OSError, ValueError, SagasrError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}: {json.dumps(manifest.provenance.get('graph_passes'))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
