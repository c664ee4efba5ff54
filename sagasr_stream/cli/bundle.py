"""Verbs about bundles: ``sagasr info`` (show and verify one, or an input's band edge), ``sagasr
make-test-model`` (a tiny untrained one) and ``sagasr export`` (hands its arguments to ``sagasr_export``)."""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from .options import add_band_limit_option


#: the exporter's provenance flags (sagasr_export.exporter) -> what they mean for the graphs' numbers
PRECISION = {"fp16": "VAE and DiT in float16", "weights_fp16": "weights stored as float16, computed in float32",
             "dit_int8": "DiT weight MatMuls in int8", "text_int8": "text encoder embedding tables in int8"}


def cmd_info(args: argparse.Namespace) -> int:
    from ..bundle import load_bundle
    from ..errors import SagasrError
    from ..graphs import GRAPH_NAMES
    from ..model import default_bundle_path

    if args.band_limit is not None and not args.input:
        raise SagasrError("--band-limit needs --input FILE (it changes the band edges shown for that file)")
    bundle = load_bundle(args.model or default_bundle_path(), verify=True)
    m = bundle.manifest
    if args.input:
        from ..input_report import inspect_input
        from ..restorer import Restorer

        report = inspect_input(args.input, Restorer.load(args.model), args.band_limit)
        print("\n".join(report.lines()))
        return 0
    if args.json:
        print(m.to_json())
        return 0
    print(f"name:            {m.name}")
    if m.description:
        print(f"description:     {m.description}")
    source = Path(args.model or default_bundle_path())
    print(f"location:        {source}" + (f" (extracted to {bundle.root})" if source.is_file() else ""))
    print(f"backend:         {m.backend} (format {m.format} v{m.format_version}, hashes verified)")
    print(f"sample rate:     {m.sample_rate} Hz")
    print(f"window:          {m.window_samples} samples ({m.window_samples / m.sample_rate:.3f} s), "
          f"{m.latent_frames} latent frames x {m.latent_channels} channels, downsampling {m.downsampling}")
    print("graphs:          " + ", ".join(f"{graph} ({m.graphs[graph]})" for graph in GRAPH_NAMES if graph in m.graphs))
    if m.slope_condition:
        print("conditions:      the DiT also takes each window's slope below its band edge (slope_in, dB/octave)")
    precision = [text for flag, text in PRECISION.items() if m.provenance.get(flag) is True]
    print(f"precision:       {'; '.join(precision) or 'float32'}")
    assert m.text is not None  # validated with the manifest
    if m.text.tokenizer:
        print(f"text:            {m.text.encoder_name or 'encoder'}, {m.text.dim}-d tokens, max {m.text.max_tokens}, "
              f"tokenizer {m.text.tokenizer.get('kind')}")
    else:
        print(f"text:            no text encoder (captions cannot be used; the DiT takes {m.text.dim}-d tokens)")
    print(f"defaults:        {json.dumps(asdict(m.defaults))}")
    size = sum((bundle.root / f).stat().st_size for f in m.files)
    print(f"files:           {len(m.files)}, {size / 1e6:.1f} MB")
    return 0


def cmd_make_test_model(args: argparse.Namespace) -> int:
    from ..testing import build_tiny_bundle

    path = build_tiny_bundle(args.folder, window_samples=args.window)
    print(f"wrote an untrained tiny test bundle to {path} (it restores nothing meaningful)")
    return 0


def cmd_export(argv: list[str]) -> int:
    try:
        from sagasr_export.cli import main as export_main
    except ImportError as exc:
        print(f"error: 'sagasr export' needs the export environment (torch, stable-audio-tools): "
              f"run 'bash export/install.sh' ({exc})", file=sys.stderr)
        return 2
    return int(export_main(argv) or 0)


def add_bundle_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``info``, ``make-test-model`` and ``export`` (whose arguments :func:`main` passes on unparsed)."""
    p = sub.add_parser("info", help="show and verify a model bundle, or an input file's band edge")
    p.add_argument("--model", help="bundle folder or archive (default: the embedded model)")
    p.add_argument("--json", action="store_true", help="print the manifest as JSON")
    p.add_argument("--input", metavar="FILE", help="show an audio file's band edges as restoration finds them (what is "
                   "kept as is) and how many windows pass through unchanged")
    add_band_limit_option(p)
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("make-test-model", help="write a tiny untrained bundle (for trying the tools)")
    p.add_argument("folder")
    p.add_argument("--window", type=int, default=65536, help="window length in samples (default 65536)")
    p.set_defaults(func=cmd_make_test_model)

    sub.add_parser("export", help="export a checkpoint to a bundle (needs torch; see export/)", add_help=False)
