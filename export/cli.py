"""``sagasr export`` / ``python -m sagasr_export``: checkpoint folder (or a shipped config) -> bundle."""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sagasr export", description="Export a SAGA-SR checkpoint to a model bundle.")
    p.add_argument("checkpoint", nargs="?", help="checkpoint folder (model.safetensors + config.json)")
    p.add_argument("--random-config", metavar="CONFIG", help="export randomly initialised weights of a config "
                     "(a name: tiny, small, full; or a JSON path) - for tests and benchmarks")
    p.add_argument("-o", "--output", required=True, help="bundle folder, or a path ending in .zip for an archive")
    p.add_argument("--backend", choices=("onnx", "torchscript"), default="onnx", help="graph format (default onnx)")
    p.add_argument("--fp16", action="store_true", help="fp16 weights (for CUDA); inputs/outputs stay float32")
    p.add_argument("--no-text-encoder", action="store_true", help="leave out the text encoder graph")
    p.add_argument("--external-data", action="store_true", help="ONNX weights in one external .data file per graph")
    p.add_argument("--steps", type=int,
                   help="default sampling steps written to the manifest (default: the config's)")
    p.add_argument("--cfg-acoustic", type=float,
                   help="default guidance scale s_a written to the manifest (default: the config's)")
    p.add_argument("--cfg-text", type=float,
                   help="default guidance scale s_t written to the manifest (default: the config's)")
    p.add_argument("--target-rolloff-hz", type=lambda v: v if v in ("auto", "model") else float(v),
                   help="default target roll-off in Hz, 'auto' (from each window's input roll-off) or 'model' (the "
                   "model chooses: needs --rolloff-unknown-trained)")
    p.add_argument("--rolloff-unknown-trained", action="store_true", default=None, help="the DiT was trained with "
                   "some target roll-offs hidden (sagasr-train rolloff_unknown_fraction > 0): 'model' may be asked")
    p.add_argument("--auto-rolloff-fraction", type=float, help="for 'auto': input roll-off + this x (Nyquist - it)")
    p.add_argument("--overlap-fraction", type=float,
                   help="default window overlap written to the manifest, a fraction of the window (0-0.5; runtime default 0.25)")
    p.add_argument("--caption", help="default caption")
    p.add_argument("--band-level", help="JSON from `sagasr-train band-level` (or its band_level object): a "
                   "noise-excited decoder's level fit; the runtime's band_level is then 'matched' by default")
    p.add_argument("--band-ceiling-db", type=float, help="the runtime's default band_ceiling (dB): a frame's restored "
                   "band may rise this far above its window's loud frames' level relative to the octave below the edge")
    p.add_argument("--sbr-blend", type=float, help="the runtime's default sbr_blend (0-1): the share of the log "
                   "magnitude of spectral band replication's pattern in the restored band")
    p.add_argument("--sbr-level-db", type=float, help="the runtime's default sbr_level (dB): with the SBR blend, the "
                   "bound on how far the replica's own level per third of an octave pulls the restored band's")
    p.add_argument("--band-smoothing-octaves", type=float, help="the runtime's default band_smoothing (octaves): "
                   "per frame, each restored bin's log magnitude averaged over this width around it")
    p.add_argument("--band-smoothing-iterations", type=int, help="the runtime's default band_smoothing_iterations: "
                   "fast Griffin-Lim iterations for the smoothed band's phases")
    p.add_argument("--band-transients", type=float, help="the runtime's default band_transients (0-1): how far the "
                   "restored band's short-time shape moves towards that of the input's octave below the edge")
    p.add_argument("--seed", type=int, default=0, help="seed for --random-config (default 0)")
    p.add_argument("--stable-audio-open", metavar="SAFETENSORS", help="first load Stable Audio Open 1.0 weights (a "
                   "local model.safetensors: VAE, DiT, seconds_start/total -> roll-off in/out) into the model")
    p.add_argument("--vae-decoder", metavar="WEIGHTS", help="replace the VAE decoder by a decoder-only fine-tune's "
                   "(sagasr-train vae --vae-parts decoder: its checkpoint folder); its encoder must be the model's")
    p.add_argument("--trained-weights", metavar="SAFETENSORS", help="load the DiT and conditioner weights from this "
                   "file (sagasr-train slim: e.g. a GPU run's EMA weights) into the model before exporting")
    p.add_argument("--save-checkpoint", metavar="DIR", help="also write the model as a checkpoint folder (e.g. a "
                   "--random-config full model with --stable-audio-open weights, to train from: sagasr-train "
                   "diffusion --init-checkpoint DIR)")
    p.add_argument("--quantize-text", action="store_true", help="int8 embedding tables in the text encoder (ONNX; MiniLM 90 -> 55 MB)")
    p.add_argument("--quantize-dit", action="store_true", help="the DiT's weight MatMuls as dynamic int8 (ONNX; a "
                   "quarter of the float32 size; speed and quality change: benchmarks/speed_results.md)")
    p.add_argument("--store-fp16", action="store_true", help="store the ONNX weights as float16, computed in float32 "
                   "(half the bundle; weights rounded to 11 bits)")
    p.add_argument("--overwrite", action="store_true",
                   help="write over an existing bundle (and --save-checkpoint folder)")
    return p


def read_band_level(path: str) -> dict[str, float]:
    """The ``band_level`` object of a `sagasr-train band-level` report (or a file holding just that object),
    validated."""
    import json
    from dataclasses import asdict

    from sagasr_stream.band_level import BandLevelFit

    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return asdict(BandLevelFit.from_dict(data.get("band_level", data) if isinstance(data, dict) else data, path))


def missing_stack_message(command: str, exc: ModuleNotFoundError) -> str:
    """What to install when the export/training stack (torch, stable-audio-tools, Lightning, ...) is missing."""
    return (f"{command} needs the export/training environment (torch, stable-audio-tools, Lightning), which "
            f"'pip install .' does not install: run 'bash export/install.sh' in the checkout (missing: {exc.name})")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if bool(args.checkpoint) == bool(args.random_config):
        parser.error("give a checkpoint folder or --random-config (exactly one)")
    if args.external_data and args.backend != "onnx":
        parser.error("--external-data is for the ONNX backend (TorchScript files hold their weights)")
    from sagasr_stream.errors import BundleError

    try:
        band_level = read_band_level(args.band_level) if args.band_level else None
    except (OSError, ValueError, BundleError) as exc:
        print(f"error: --band-level {exc}", file=sys.stderr)
        return 2
    from sagasr_stream.band_ceiling import is_margin_db

    for flag, level in (("--band-ceiling-db", args.band_ceiling_db), ("--sbr-level-db", args.sbr_level_db)):
        if level is not None and not is_margin_db(level):
            print(f"error: {flag} must be a level in dB >= 0, got {level}", file=sys.stderr)
            return 2
    from sagasr_stream.replication import is_share

    for flag, share in (("--sbr-blend", args.sbr_blend), ("--band-transients", args.band_transients)):
        if share is not None and not is_share(share):
            print(f"error: {flag} must be a share in [0, 1], got {share}", file=sys.stderr)
            return 2
    from sagasr_stream.band_smoothing import is_iterations, is_width_octaves

    width, iterations = args.band_smoothing_octaves, args.band_smoothing_iterations
    if width is not None and not is_width_octaves(width):
        print(f"error: --band-smoothing-octaves must be a width in octaves in (0, 2], got {width}", file=sys.stderr)
        return 2
    if iterations is not None and not is_iterations(iterations):
        print(f"error: --band-smoothing-iterations must be an integer in [0, 100], got {iterations}", file=sys.stderr)
        return 2
    if iterations is not None and width is None:
        print("error: --band-smoothing-iterations needs --band-smoothing-octaves", file=sys.stderr)
        return 2
    try:
        import torch
        from safetensors import SafetensorError

        from sagasr_stream.bundle import archive_bundle

        from .model.checkpoint import (load_checkpoint, load_stable_audio_open, load_trained_weights,
                                       replace_vae_decoder, save_checkpoint)
        from .exporter import export_bundle, model_defaults
        from .model import build_model, load_config, named_config
    except ModuleNotFoundError as exc:  # `pip install .` installs this command but not torch
        print(f"error: {missing_stack_message('sagasr export', exc)}", file=sys.stderr)
        return 2

    out = Path(args.output)
    archive = out.suffix == ".zip"
    if out.exists() and not archive and not out.is_dir():
        print(f"error: {out} is a file; a bundle is a folder (or NAME.zip)", file=sys.stderr)
        return 2
    if out.exists() and not args.overwrite and (archive or any(out.iterdir())):
        print(f"error: {out} exists (use --overwrite)", file=sys.stderr)
        return 2
    saved = Path(args.save_checkpoint) if args.save_checkpoint else None
    if saved is not None and saved.exists() and not args.overwrite and (not saved.is_dir() or any(saved.iterdir())):
        print(f"error: --save-checkpoint {saved} exists (use --overwrite)", file=sys.stderr)
        return 2
    try:
        if args.checkpoint:
            model = load_checkpoint(args.checkpoint)
        else:
            torch.manual_seed(args.seed)
            name = args.random_config
            model = build_model(load_config(name) if name.endswith(".json") else named_config(name)).eval()
    except (ValueError, TypeError, KeyError, OSError, SafetensorError, BundleError) as exc:  # JSON: ValueError
        flag = args.checkpoint or f"--random-config {args.random_config}"
        print(f"error: {flag}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    if args.stable_audio_open:
        try:
            report = load_stable_audio_open(model, args.stable_audio_open)
        except (ValueError, OSError, SafetensorError) as exc:
            print(f"error: {args.stable_audio_open}: {exc}", file=sys.stderr)
            return 2
        print(f"Stable Audio Open weights: {report['loaded']} tensors loaded ({len(report['adapted'])} adapted), "
              f"{len(report['missing'])} model tensors not in the file, {len(report['skipped'])} file tensors unused")
    if args.vae_decoder:
        try:
            replace_vae_decoder(model, args.vae_decoder)
        except (ValueError, OSError, SafetensorError) as exc:
            print(f"error: --vae-decoder {exc}", file=sys.stderr)
            return 2
    if args.trained_weights:
        try:
            print(f"trained weights: {load_trained_weights(model, args.trained_weights)} tensors")
        except (ValueError, OSError, SafetensorError) as exc:
            print(f"error: --trained-weights {exc}", file=sys.stderr)
            return 2
    defaults = {k: v for k, v in {"steps": args.steps, "cfg_acoustic": args.cfg_acoustic, "cfg_text": args.cfg_text,
                                  "target_rolloff_hz": args.target_rolloff_hz, "caption": args.caption,
                                  "auto_rolloff_fraction": args.auto_rolloff_fraction,
                                  "overlap_fraction": args.overlap_fraction,
                                  "rolloff_unknown_trained": args.rolloff_unknown_trained,
                                  "band_ceiling_db": args.band_ceiling_db, "sbr_blend": args.sbr_blend,
                                  "sbr_level_db": args.sbr_level_db, "band_smoothing_octaves": width,
                                  "band_smoothing_iterations": iterations,
                                  "band_transients": args.band_transients}.items()
                if v is not None}
    if band_level is not None:
        defaults["band_level"] = band_level
    try:
        model_defaults(model, defaults)  # a bad default fails before anything is written
    except (ValueError, BundleError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # an archive is built in a hidden folder of its own (never a folder of the user's beside it), then zipped
    if archive:
        out.parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f".{out.stem}.", dir=out.parent)) if archive else out
    start = time.perf_counter()
    try:
        manifest = export_bundle(model, folder, backend=args.backend, fp16=args.fp16, defaults=defaults,
                                 text_encoder=not args.no_text_encoder,
                                 external_data=True if args.external_data else None, overwrite=args.overwrite,
                                 quantize_text=args.quantize_text, store_fp16=args.store_fp16,
                                 quantize_dit=args.quantize_dit)
        if archive:
            archive_bundle(folder, out)
    except (FileExistsError, ValueError, BundleError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if archive:
            shutil.rmtree(folder, ignore_errors=True)
    print(f"wrote {out} ({manifest.backend}, graphs: {', '.join(manifest.graphs)}) in {time.perf_counter() - start:.1f} s")
    if saved is not None:  # only once the export has worked: a refused export leaves an existing folder alone
        save_checkpoint(model, saved)
        print(f"wrote {saved}")
    return 0
