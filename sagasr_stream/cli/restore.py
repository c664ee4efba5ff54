"""``sagasr restore`` (alias ``sagasr upsample``): restore audio files, folders or globs to files."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import SagasrError
from ..formats import check_output_rate, output_bit_depth, output_quality
from ..input_files import AUDIO_SUFFIXES, check_collisions, expand_inputs, outside_folder
from .options import (
    FORMATS, add_band_limit_option, add_bit_depth_option, add_quality_option, add_restore_options, sample_rate_hz,
    settings_from_args,
)

if TYPE_CHECKING:  # imported where a bar is made: a command that shows none does not load tqdm
    from tqdm import tqdm


def output_folder(inputs: list[tuple[Path, Path]], output: str | None) -> Path | None:
    """The folder the results go to with ``-o`` (None: beside the inputs, or ``-o`` names one output file)."""
    from ..audio_io import check_output_name

    if output is None:
        return None
    out = Path(output)
    check_output_name(out)  # before any stat: a name too long fails there with OSError
    as_dir = len(inputs) > 1 or out.is_dir() or output.endswith(("/", "\\")) or out.suffix == ""
    return out if as_dir else None


def output_paths(inputs: list[tuple[Path, Path]], output: str | None, suffix: str) -> list[Path]:
    """Where each input's result goes: a file (-o for one input), a folder (-o for several), or beside the input."""
    if output is None:
        return [file.with_name(f"{file.stem}_restored{suffix}") for file, _ in inputs]
    folder = output_folder(inputs, output)
    if folder is None:
        return [Path(output)]
    return [folder / rel.with_suffix(suffix) for _, rel in inputs]


def drop_own_outputs(inputs: list[tuple[Path, Path]], outputs: list[Path]) -> tuple[list[tuple[Path, Path]], list[Path]]:
    """Leave out inputs that are the output of another input (a rerun over a folder that holds earlier
    results, e.g. ``a_restored.wav`` beside ``a.wav``): they are not restored again."""
    destinations = {out.resolve(): file for (file, _), out in zip(inputs, outputs)}
    kept = [(pair, out) for pair, out in zip(inputs, outputs) if destinations.get(pair[0], pair[0]) == pair[0]]
    return [pair for pair, _ in kept], [out for _, out in kept]


def protected_inputs(inputs: list[tuple[Path, Path]], output: str | None) -> set[Path]:
    """The input files no output may overwrite, even with ``--force``. Without ``-o`` an input that another
    input's output lands on is named as our output (``a_restored.wav``), so it may be redone; with ``-o`` the
    same name proves nothing (``x.flac`` beside ``x.wav`` with ``-o`` the folder itself and ``--format flac``
    is the user's own file), so every input is kept."""
    files = {file for file, _ in inputs}
    if output is not None:
        return files
    return {file for file in files if not file.stem.endswith("_restored")}


class FileProgress:
    """One file's progress bar, in windows: opened at the first report, when its total is known (so no bar of
    unknown length is shown first); ``disable`` as tqdm's (None: on a terminal only)."""

    def __init__(self, name: str, disable: bool | None) -> None:
        self.name, self.disable = name, disable
        self.bar: tqdm | None = None

    def __call__(self, done: int, total: int) -> None:
        from tqdm import tqdm

        if self.bar is None:
            self.bar = tqdm(total=total, desc=self.name, unit="win", leave=False, disable=self.disable)
        elif self.bar.total != total:
            self.bar.reset(total)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def cmd_restore(args: argparse.Namespace) -> int:
    """Restore every input to its output file (errors per file are reported, the rest go on)."""
    from tqdm import tqdm

    from ..api import restore_file
    from ..restorer import Restorer

    inputs = expand_inputs(args.inputs)
    folder = output_folder(inputs, args.output)
    if folder is not None:  # a rerun with -o inside an input folder: its earlier results are no inputs
        inputs, left_out = outside_folder(inputs, folder)
        if left_out and not inputs:
            raise SagasrError(f"every audio file found is in the output folder {folder}: nothing to restore")
        if left_out and not args.quiet:
            print(f"leaving out {len(left_out)} file(s) in the output folder {folder}", file=sys.stderr)
    check_output_target(inputs, args.output, args.format)
    outputs = output_paths(inputs, args.output, "." + (args.format or "wav"))
    kept, outputs = drop_own_outputs(inputs, outputs)
    check_collisions(kept, outputs)
    for file in sorted({f for f, _ in inputs} - {f for f, _ in kept}):
        if not args.quiet:
            why = "it is the output of another input" if args.output is None else \
                "another input's output goes there: not restored, not overwritten; choose another -o for both"
            print(f"skip {file} ({why})", file=sys.stderr)
    remove_leftovers(outputs, {file for file, _ in inputs}, args.quiet)
    protected = protected_inputs(inputs, args.output)
    inputs = kept
    if outputs:  # one format for all of them: FLAC / AIFF at 32 bits, FLAC at 768 kHz are refused before any work
        output_quality(outputs[0], args.quality)
        output_bit_depth(outputs[0], args.bit_depth)
        if args.output_rate is not None:
            check_output_rate(outputs[0], args.output_rate)
    restorer = Restorer.load(args.model, settings_from_args(args), args.provider, bool(args.allow_torchscript),
                             band_limit_hz=args.band_limit)
    model = restorer.model  # the settings are resolved once, before any file: a bad setting fails here
    if not args.quiet:
        print(f"model {model.manifest.name!r} on {model.device}", file=sys.stderr)
    failures: list[tuple[Path, str]] = []
    restored = 0
    say = (lambda line: None) if args.quiet else (lambda line: tqdm.write(line, file=sys.stderr))
    bars_off = True if args.quiet else None  # None: tqdm shows its bars on a terminal only, not in a log file
    overall = tqdm(total=len(inputs), desc="files", unit="file", disable=True if len(inputs) < 2 else bars_off)
    for (source, _), destination in zip(inputs, outputs):
        target = destination.resolve()
        if target == source or (target in protected and args.force):
            failures.append((source, f"{destination} is an input file; refusing to overwrite it (choose another -o)"))
            tqdm.write(f"error: {failures[-1][1]}", file=sys.stderr)
        elif destination.exists() and not args.force:
            say(f"skip {source} -> {destination} (exists; --force to redo)")
        else:
            progress = FileProgress(source.name, bars_off)
            lines: list[str] = []  # restore_file's rate line: said once the file is written, not before
            try:
                restore_file(source, destination, restorer, overwrite=args.force, progress=progress,
                             output_rate=args.output_rate, log=lines.append, bit_depth=args.bit_depth,
                             quality=args.quality)
                for line in lines:
                    say(line)
                say(f"{source} -> {destination}")
                restored += 1
            except (SagasrError, ValueError, OSError) as exc:
                failures.append((source, file_error_text(source, destination, exc)))
                tqdm.write(f"error: {failures[-1][1]}", file=sys.stderr)
            finally:
                progress.close()
        overall.update(1)
    overall.close()
    if failures or (len(inputs) > 1 and not args.quiet):
        print_summary(restored, len(inputs) - restored - len(failures), failures)
    return 1 if failures else 0


def check_output_target(inputs: list[tuple[Path, Path]], output: str | None, fmt: str | None = None) -> None:
    """Refuse, before the model loads, an output file we cannot write (``-o out.mp3``), an output file
    name for several inputs (``-o multi.wav`` would become a folder of that name) and a ``--format`` that
    another output file name contradicts (``-o one.wav --format flac``)."""
    from ..audio_io import check_output_name
    from ..formats import WRITABLE_SUFFIXES

    if output is None:
        return
    if output == "-":  # it would be a folder named "-"
        raise SagasrError("-o -: writing to standard output is not supported; name an output file or folder")
    out = Path(output)
    check_output_name(out)  # before any stat: a name too long fails there with OSError
    try:
        is_dir = out.is_dir()
        is_other = not is_dir and out.exists()
    except OSError as exc:
        raise SagasrError(f"cannot write {output}: {exc.strerror or exc}") from None
    if out.suffix == "" and is_other:  # a name without a suffix is a folder: this one cannot be (/dev/null)
        raise SagasrError(f"-o {output} is a file, not a folder: name an output file (.wav, .flac, .aiff, .mp3, .ogg) "
                          "or a folder")
    if is_dir or output.endswith(("/", "\\")) or out.suffix == "":
        return
    suffix = out.suffix.lower()
    if len(inputs) > 1 and suffix in AUDIO_SUFFIXES:
        raise SagasrError(f"-o {output} names one file but {len(inputs)} inputs were given: pass a folder")
    if len(inputs) == 1 and suffix not in WRITABLE_SUFFIXES:
        raise SagasrError(
            f"cannot write {output}: output format must be one of {', '.join(sorted(WRITABLE_SUFFIXES))}"
        )
    if len(inputs) == 1 and fmt is not None and suffix.lstrip(".") != fmt and not (fmt == "aiff" and suffix == ".aif"):
        raise SagasrError(f"-o {output} is a .{suffix.lstrip('.')} file but --format {fmt} was given: drop one")


def remove_leftovers(outputs: list[Path], inputs: set[Path], quiet: bool) -> None:
    """Delete the hidden partial files that killed runs left in the output folders (ours, dead PIDs only),
    never one of this run's ``inputs``, whatever its name."""
    from ..partials import remove_stale_partials

    for folder in sorted({out.parent for out in outputs}):
        for path in remove_stale_partials(folder, keep=inputs):
            if not quiet:
                print(f"removed {path} (a partial file left by an interrupted run)", file=sys.stderr)


def file_error_text(source: Path, destination: Path, exc: BaseException) -> str:
    """The error message, prefixed with the input unless the message already names it or the output (a
    failure while writing names the output path, not the input)."""
    text = str(exc)
    named = (str(source), source.name, str(destination))
    return text if any(name in text for name in named) else f"{source}: {text}"


def print_summary(restored: int, skipped: int, failures: list[tuple[Path, str]]) -> None:
    """One line of counts, then each failed file (always printed: it is the result of the run)."""
    print(f"{restored} restored, {skipped} skipped, {len(failures)} failed", file=sys.stderr)
    for source, _message in failures:
        print(f"  failed: {source}", file=sys.stderr)


def add_restore_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``sagasr restore`` (and its alias ``upsample``) on the main parser."""
    p = sub.add_parser("restore", aliases=["upsample"], help="restore audio files, folders or globs")
    p.add_argument("inputs", nargs="+", help="files, folders or glob patterns (quoted); of a folder or a glob only the "
                                              f"audio files ({' '.join(sorted(AUDIO_SUFFIXES))}) are taken")
    p.add_argument("-o", "--output", help="output file (one input) or folder")
    p.add_argument("--format", choices=FORMATS,
                   help="output format of a folder's files (default wav; a file named by -o: its suffix); mp3 and ogg "
                        "are lossy (see --quality)")
    p.add_argument("--output-rate", type=sample_rate_hz, metavar="HZ",
                   help="output sample rate (default: the input's rate when >= 44100 Hz, else 44100 Hz); "
                        "restoration runs at the model's rate, then the result is resampled (at the input's own "
                        "rate only the restored change: the rest of the input is kept bit for bit); FLAC holds rates "
                        "up to 655350 Hz, above 65535 Hz multiples of 10 Hz only; MP3 8000, 11025, 12000, 16000, "
                        "22050, 24000, 32000, 44100 or 48000 Hz; Ogg Vorbis up to 200000 Hz")
    add_bit_depth_option(p)
    add_quality_option(p)
    add_band_limit_option(p)
    p.add_argument("--force", action="store_true", help="redo outputs that exist")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no progress bars, no per-file lines (errors and warnings only)")
    add_restore_options(p)
    p.set_defaults(func=cmd_restore)
