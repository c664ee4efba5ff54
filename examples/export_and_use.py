"""Export a SAGA-SR model to an ONNX bundle, then restore audio with it on ONNX Runtime (no torch needed there).

    python examples/export_and_use.py [INPUT] [-o OUTPUT] [--bundle-dir DIR] [--model BUNDLE]

If the exporter (sagasr_export, needs torch and stable-audio-tools) is importable, a tiny randomly
initialised checkpoint (export/configs/tiny.json) is exported; otherwise the example says so and uses
--model, the embedded default model, or a tiny test bundle built without torch.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from example_utils import input_or_synthetic, load_model
from sagasr_stream import SagaSRModel, restore_file

TINY_CONFIG = Path(__file__).resolve().parents[1] / "export" / "configs" / "tiny.json"


def export_tiny(out_dir: Path) -> Path | None:
    """Export a random tiny checkpoint with sagasr_export; None (after saying why) if it is not available."""
    try:
        from sagasr_export.exporter import export_bundle
        from sagasr_export.model import build_model, load_config
    except ImportError as exc:
        print(f"NOTE: the exporter is not available here ({exc}); skipping the export step.", file=sys.stderr)
        return None
    model = build_model(load_config(TINY_CONFIG)).eval()  # random weights: a real run loads a checkpoint
    export_bundle(model, out_dir, overwrite=True)
    print(f"exported {TINY_CONFIG.name} (random weights) to {out_dir}")
    return out_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", nargs="?", help="audio file (default: a synthetic band-limited one)")
    parser.add_argument("-o", "--output", default="exported_model_out.wav", help="output file")
    parser.add_argument("--bundle-dir", default="exported_bundle", help="where to write the exported bundle")
    parser.add_argument("--model", default=None, help="use this bundle instead of exporting one")
    parser.add_argument("--no-export", action="store_true", help="skip the export step")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of the synthetic input")
    args = parser.parse_args()

    output = Path(args.output)
    source = input_or_synthetic(args.input, output.parent, args.seconds, sample_rate=22050)
    exported = None if (args.model or args.no_export) else export_tiny(Path(args.bundle_dir))
    model = SagaSRModel.load(exported) if exported else load_model(args.model)
    print(f"restoring with bundle {model.manifest.name!r} on {model.device}")
    restore_file(source, output, model, overwrite=True)
    print(f"{source} -> {output}")


if __name__ == "__main__":
    main()
