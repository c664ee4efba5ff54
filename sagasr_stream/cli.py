"""The ``sagasr`` command: restore files, inspect bundles, export, evaluate, benchmark, live audio."""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

from .cli_common import AUDIO_SUFFIXES, expand_inputs, settings_from_args
from .errors import SagasrError

def check_collisions(inputs: list[tuple[Path, Path]], outputs: list[Path]) -> None:
    """Raise :class:`SagasrError` when two inputs would be written to the same output file."""
    seen: dict[Path, Path] = {}
    clashes = []
    for (source, _), destination in zip(inputs, outputs):
        key = destination.resolve()
        if key in seen:
            clashes.append(f"{seen[key]} and {source} -> {destination}")
        seen.setdefault(key, source)
    if clashes:
        raise SagasrError("several inputs would be written to the same output (nothing was done): " + "; ".join(clashes))


def output_paths(inputs: list[tuple[Path, Path]], output: str | None, suffix: str) -> list[Path]:
    """Where each input's result goes: a file (-o for one input), a folder (-o for several), or beside the input."""
    if output is None:
        return [file.with_name(f"{file.stem}_restored{suffix}") for file, _ in inputs]
    out = Path(output)
    as_dir = len(inputs) > 1 or out.is_dir() or output.endswith(("/", "\\")) or out.suffix == ""
    if not as_dir:
        return [out]
    return [out / rel.with_suffix(suffix) for _, rel in inputs]


def drop_own_outputs(inputs: list[tuple[Path, Path]], outputs: list[Path]) -> tuple[list[tuple[Path, Path]], list[Path]]:
    """Leave out inputs that are the output of another input (a rerun over a folder that holds earlier
    results, e.g. ``a_restored.wav`` beside ``a.wav``): they are skipped or redone, never restored again."""
    destinations = {out.resolve(): file for (file, _), out in zip(inputs, outputs)}
    kept = [(pair, out) for pair, out in zip(inputs, outputs) if destinations.get(pair[0], pair[0]) == pair[0]]
    return [pair for pair, _ in kept], [out for _, out in kept]


def cmd_upsample(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .api import restore_file
    from .model import SagaSRModel
    from .settings import resolve

    inputs = expand_inputs(args.inputs)
    check_output_target(inputs, args.output)
    outputs = output_paths(inputs, args.output, "." + args.format)
    kept, outputs = drop_own_outputs(inputs, outputs)
    check_collisions(kept, outputs)
    for file in sorted({f for f, _ in inputs} - {f for f, _ in kept}):
        if not args.quiet:
            print(f"skip {file} (it is the output of another input)", file=sys.stderr)
    inputs = kept
    input_set = {file for file, _ in inputs}
    remove_leftovers(outputs, args.quiet)
    model = SagaSRModel.load(args.model, provider=args.provider, allow_torchscript=bool(args.allow_torchscript))
    settings = settings_from_args(args)
    resolve(settings, model.manifest)  # fail once, before any file, on a bad setting
    if not args.quiet:
        print(f"model {model.manifest.name!r} on {model.device}", file=sys.stderr)
    failures: list[tuple[Path, str]] = []
    restored = 0
    say = (lambda line: None) if args.quiet else (lambda line: tqdm.write(line, file=sys.stderr))
    overall = tqdm(total=len(inputs), desc="files", unit="file", disable=args.quiet or len(inputs) < 2)
    for (source, _), destination in zip(inputs, outputs):
        if destination.resolve() in input_set:
            failures.append((source, f"{destination} is an input file; refusing to overwrite it"))
            tqdm.write(f"error: {failures[-1][1]}", file=sys.stderr)
        elif destination.exists() and not args.force:
            say(f"skip {source} -> {destination} (exists; --force to redo)")
        else:
            bar = tqdm(desc=source.name, unit="win", leave=False, disable=args.quiet)

            def progress(done: int, total: int, bar=bar) -> None:  # type: ignore[no-untyped-def]
                bar.total = total
                bar.n = done
                bar.refresh()

            try:
                restore_file(source, destination, model, settings, overwrite=args.force, progress=progress,
                             output_rate=args.output_rate, log=say)
                say(f"{source} -> {destination}")
                restored += 1
            except (SagasrError, ValueError, OSError) as exc:
                failures.append((source, file_error_text(source, exc)))
                tqdm.write(f"error: {failures[-1][1]}", file=sys.stderr)
            finally:
                bar.close()
        overall.update(1)
    overall.close()
    if failures or (len(inputs) > 1 and not args.quiet):
        print_summary(restored, len(inputs) - restored - len(failures), failures)
    return 1 if failures else 0


def check_output_target(inputs: list[tuple[Path, Path]], output: str | None) -> None:
    """Refuse, before the model loads, an output file we cannot write (``-o out.mp3``) and an output file
    name for several inputs (``-o multi.wav`` would become a folder of that name)."""
    from .audio_io import WRITABLE_SUFFIXES

    if output is None:
        return
    out = Path(output)
    if out.is_dir() or output.endswith(("/", "\\")) or out.suffix == "":
        return
    suffix = out.suffix.lower()
    if len(inputs) > 1 and suffix in AUDIO_SUFFIXES:
        raise SagasrError(f"-o {output} names one file but {len(inputs)} inputs were given: pass a folder")
    if len(inputs) == 1 and suffix not in WRITABLE_SUFFIXES:
        raise SagasrError(
            f"cannot write {output}: output format must be one of {', '.join(sorted(WRITABLE_SUFFIXES))}"
        )


def remove_leftovers(outputs: list[Path], quiet: bool) -> None:
    """Delete the hidden partial files that killed runs left in the output folders (ours, dead PIDs only)."""
    from .partials import remove_stale_partials

    for folder in sorted({out.parent for out in outputs}):
        for path in remove_stale_partials(folder):
            if not quiet:
                print(f"removed {path} (a partial file left by an interrupted run)", file=sys.stderr)


def file_error_text(source: Path, exc: BaseException) -> str:
    """The error message, prefixed with the file unless the message already names it (the file once)."""
    text = str(exc)
    return text if str(source) in text or source.name in text else f"{source}: {text}"


def print_summary(restored: int, skipped: int, failures: list[tuple[Path, str]]) -> None:
    """One line of counts, then each failed file (always printed: it is the result of the run)."""
    print(f"{restored} restored, {skipped} skipped, {len(failures)} failed", file=sys.stderr)
    for source, _message in failures:
        print(f"  failed: {source}", file=sys.stderr)


def cmd_info(args: argparse.Namespace) -> int:
    from .bundle import load_bundle
    from .model import default_bundle_path

    bundle = load_bundle(args.model or default_bundle_path(), verify=True)
    m = bundle.manifest
    if args.input:
        from .input_report import inspect_input
        from .settings import RestoreSettings, resolve

        complete_hz = resolve(RestoreSettings(), m).complete_band_hz  # the edge at which windows pass through
        report = inspect_input(args.input, m.sample_rate, m.window_samples, complete_hz)
        print("\n".join(report.lines()))
        return 0
    if args.json:
        print(m.to_json())
        return 0
    print(f"name:            {m.name}")
    if m.description:
        print(f"description:     {m.description}")
    print(f"location:        {bundle.root}")
    print(f"backend:         {m.backend} (format {m.format} v{m.format_version}, hashes verified)")
    print(f"sample rate:     {m.sample_rate} Hz")
    print(f"window:          {m.window_samples} samples ({m.window_samples / m.sample_rate:.3f} s), "
          f"{m.latent_frames} latent frames x {m.latent_channels} channels, downsampling {m.downsampling}")
    if m.text:
        print(f"text:            {m.text.encoder_name or 'encoder'}, {m.text.dim}-d tokens, max {m.text.max_tokens}, "
              f"tokenizer {m.text.tokenizer.get('kind') if m.text.tokenizer else '-'}")
    else:
        print("text:            none")
    print(f"defaults:        {json.dumps(asdict(m.defaults))}")
    size = sum((bundle.root / f).stat().st_size for f in m.files)
    print(f"files:           {len(m.files)}, {size / 1e6:.1f} MB")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    import numpy as np

    from .api import restore
    from .model import SagaSRModel

    model = SagaSRModel.load(args.model, provider=args.provider, allow_torchscript=bool(args.allow_torchscript))
    sr = model.manifest.sample_rate
    rng = np.random.default_rng(0)
    from .dsp import resample_through

    noise = 0.1 * rng.standard_normal(int(args.seconds * sr))
    audio = resample_through(noise, sr, 16000).astype(np.float32)  # band-limited at 8 kHz: full band would pass through
    settings = settings_from_args(args)
    start = time.perf_counter()
    restore(audio, sr, model, settings)
    elapsed = time.perf_counter() - start
    print(f"{model.manifest.name} on {model.device}: {args.seconds:g} s of audio in {elapsed:.2f} s, "
          f"real-time factor {elapsed / args.seconds:.3f} (below 1 is faster than real time)")
    return 0


def cmd_make_test_model(args: argparse.Namespace) -> int:
    from .testing import build_tiny_bundle

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


def positive_seconds(text: str) -> float:
    """argparse type: a finite number of seconds > 0."""
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or value <= 0 or value > 24 * 3600:
        raise argparse.ArgumentTypeError(f"must be a number of seconds in (0, 86400], got {text!r}")
    return value


def rolloff_arg(text: str) -> float | str:
    """``--target-rolloff``: a frequency in Hz, or "auto"."""
    if text == "auto":
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a frequency in Hz or 'auto', got {text!r}") from None


def add_restore_options(p: argparse.ArgumentParser) -> None:
    """Sampling options shared by the commands that run the model."""
    p.add_argument("--model", help="bundle folder or archive (default: the embedded model)")
    p.add_argument("--provider", default="auto", choices=["auto", "cpu", "cuda"], help="ONNX Runtime provider")
    p.add_argument("--allow-torchscript", action="store_true",
                   help="load a TorchScript bundle (it runs code from its files: only bundles you trust)")
    p.add_argument("--steps", type=int, help="Euler steps (default: the bundle's)")
    p.add_argument("--cfg-acoustic", type=float, help="LR-latent guidance scale s_a (default 1.4)")
    p.add_argument("--cfg-text", type=float, help="text/roll-off guidance scale s_t (default 1.2)")
    p.add_argument("--cfg-form", choices=["official", "independent"], help="guidance formula")
    p.add_argument("--target-rolloff", type=rolloff_arg, metavar="HZ|auto",
                   help="wanted output roll-off in Hz, or 'auto' (from each window's input roll-off)")
    p.add_argument("--caption", help="text guidance (default: the bundle's)")
    p.add_argument("--overlap", type=int, metavar="SAMPLES", help="window overlap (multiple of the downsampling)")
    p.add_argument("--batch-size", type=int, metavar="WINDOWS", help="windows per DiT call")
    p.add_argument("--seed", type=int, help="noise seed (default 0)")
    p.add_argument("--low-band", choices=["keep", "replace", "off"], help="what to do below the input's cutoff")
    p.add_argument("--stereo", choices=["linked", "mid-side", "independent", "mono"],
                   help="how channels are restored together (default linked: one restored band per pair)")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="sagasr", description="SAGA-SR audio bandwidth extension")
    parser.add_argument("--version", action="version", version=f"sagasr {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("upsample", help="restore audio files, folders or globs")
    p.add_argument("inputs", nargs="+", help="files, folders or glob patterns")
    p.add_argument("-o", "--output", help="output file (one input) or folder")
    p.add_argument("--format", default="wav", choices=["wav", "flac", "aiff"], help="output format")
    p.add_argument("--output-rate", type=int, metavar="HZ",
                   help="output sample rate (default: the input's rate when >= 44100 Hz, else 44100 Hz); "
                        "restoration runs at the model's rate, then the result is resampled")
    p.add_argument("--force", action="store_true", help="redo outputs that exist")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars, no per-file lines (errors only)")
    add_restore_options(p)
    p.set_defaults(func=cmd_upsample)

    p = sub.add_parser("info", help="show and verify a model bundle, or an input file's band edge")
    p.add_argument("--model", help="bundle folder or archive (default: the embedded model)")
    p.add_argument("--json", action="store_true", help="print the manifest as JSON")
    p.add_argument("--input", metavar="FILE", help="show an audio file's detected band edge (what is kept as is)")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("bench", help="measure the real-time factor on synthetic audio")
    p.add_argument("--seconds", type=positive_seconds, default=10.0, metavar="S",
                   help="length of the synthetic test signal in seconds (default 10)")
    add_restore_options(p)
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("make-test-model", help="write a tiny untrained bundle (for trying the tools)")
    p.add_argument("folder")
    p.add_argument("--window", type=int, default=65536, help="window length in samples")
    p.set_defaults(func=cmd_make_test_model)

    sub.add_parser("export", help="export a checkpoint to a bundle (needs torch; see export/)", add_help=False)
    _add_optional_commands(sub)
    return parser


def _add_optional_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Commands whose modules may be absent or need extras: evaluation and live audio."""
    try:
        from .evaluation.cli import add_eval_command
    except ImportError:
        pass
    else:
        add_eval_command(sub, add_restore_options)
    try:
        from .live_cli import add_live_arguments, run_live
    except ImportError:
        pass
    else:
        p = sub.add_parser("live", help="restore live audio from an input device to an output device")
        add_live_arguments(p)
        p.set_defaults(func=run_live)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["export"]:
        return cmd_export(argv[1:])
    args = build_parser().parse_args(argv)
    for key in ("steps", "cfg_acoustic", "cfg_text", "cfg_form", "target_rolloff", "caption", "overlap",
                "batch_size", "seed", "low_band", "stereo"):
        if not hasattr(args, key):
            setattr(args, key, None)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:  # partial outputs are already removed by the atomic writer
        print("interrupted (no partial output was kept)", file=sys.stderr)
        return 130
    except (SagasrError, ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
