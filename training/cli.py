"""``sagasr-train`` / ``python -m sagasr_training``: captions, vae, diffusion, export.

Training settings come from a JSON config (``--config``, see :class:`sagasr_training.config.TrainConfig`) and are
overridden by flags, one per config field (declared with the field: ``--data`` is ``data.root``, ``--workers``
``data.num_workers``, ``--degrade-cutoff-min-hz`` ``data.degrade.cutoff_min_hz``; ``sagasr-train diffusion --help``). Examples::

    sagasr-train captions data/hr --cache data/hr/captions.jsonl --captioner qwen2-audio --model-path ~/qwen2-audio
    sagasr-train vae --model small --data data/hr --run-dir runs/vae --max-steps 20000
    sagasr-train diffusion --config run.json --vae-weights runs/vae/checkpoint --devices 8 --strategy ddp
    sagasr-train latent-scale --config run.json --vae-weights runs/vae/checkpoint --out runs/model.json
    sagasr-train cache-latents --config run.json --vae-weights runs/vae/checkpoint --out cache.safetensors --items 2000
    sagasr-train diffusion --config run.json --vae-weights runs/vae/checkpoint --latent-cache cache.safetensors
    sagasr-train export runs/sagasr -o model_bundle
    sagasr-train text-tokens --config run.json --out tokens.safetensors   # then --text-tokens ... --bank-versions 16
    sagasr-train pack runs/sagasr -o pieces/         # GPU machine -> here, <= 16 MiB per piece, SHA-256 checked
    sagasr-train unpack pieces/ -o runs/sagasr       # then the same training command resumes from the state
    sagasr-train mix data/mixed a=data/corpus b=data/other_bank:2   # one training set from several corpora
    sagasr-train carry-parts data/mixed -o .gpu --part-mb 53.5 35 --max-seconds 9   # one lent-GPU call per part
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from sagasr_stream.cli.fields import Flag, add_flags, dataclass_flags, flag_values

from .config import TrainConfig, load_train_config
from .probe import METRICS as PROBE_METRICS


#: one flag per TrainConfig / DataConfig / DegradeConfig field (from the fields' option metadata)
TRAIN_FLAGS: list[Flag] = dataclass_flags(TrainConfig)


def _train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="JSON training config (flags override it)")
    add_flags(p.add_argument_group("training config (default: --config, else the TrainConfig defaults)"), TRAIN_FLAGS)


def train_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """{dotted config key: value} of the training flags given (for :func:`load_train_config`)."""
    return flag_values(args, TRAIN_FLAGS)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sagasr-train", description="Train SAGA-SR and its VAE.")
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("captions", help="caption every audio file of a folder into a JSON-lines cache")
    c.add_argument("root")
    c.add_argument("--cache", help="output JSON lines (default ROOT/captions.jsonl)")
    c.add_argument("--captioner", choices=("qwen2-audio", "http", "metadata"), default="metadata")
    c.add_argument("--model-path", help="local Qwen2-Audio folder")
    c.add_argument("--device", default="cpu")
    c.add_argument("--url", help="OpenAI-style chat completions URL")
    c.add_argument("--api-model", default="Qwen/Qwen2-Audio-7B-Instruct")
    c.add_argument("--api-key-env", help="environment variable holding the API key")
    c.add_argument("--prompt")
    c.add_argument("--max-seconds", type=float, default=30.0)
    c.add_argument("--lowpass-hz", type=float, help="caption a band-limited copy (what inference sees)")
    c.add_argument("--overwrite", action="store_true")
    for name, text in (("vae", "train the Oobleck VAE"), ("diffusion", "train the SAGA-SR DiT")):
        _train_args(sub.add_parser(name, help=text))
    k = sub.add_parser("cache-latents", help="encode training windows once (frozen VAE + text) for fast DiT training")
    _train_args(k)
    k.add_argument("--out", dest="cache_out", required=True, help="output .safetensors file")
    k.add_argument("--items", dest="cache_items", type=int, required=True, help="number of training windows")
    k.add_argument("--encode-batch", dest="cache_batch", type=int, default=8)
    m = sub.add_parser("latent-scale", help="measure the VAE latents per channel; write the model config with latent_shift/scale")
    _train_args(m)
    m.add_argument("--out", dest="scale_out", required=True, help="model config JSON to write (use it as --model)")
    m.add_argument("--items", dest="scale_items", type=int, default=64, help="training windows to measure")
    tt = sub.add_parser("text-tokens", help="encode every training file's caption once (for --bank-versions)")
    _train_args(tt)
    tt.add_argument("--out", dest="tokens_out", required=True, help="output .safetensors file")
    pk = sub.add_parser("pack", help="split a run (resume + export files) into pieces of at most --piece-mib MiB")
    pk.add_argument("run_dir")
    pk.add_argument("-o", "--out", dest="pieces_out", required=True, help="empty folder for the pieces")
    pk.add_argument("--piece-mib", type=float, default=16.0)
    pk.add_argument("--checkpoint-only", action="store_true",
                    help="only run.json and checkpoint/ (the EMA weights to export), not the training state")
    sl = sub.add_parser("slim", help="copy a run's EMA weights (trained parts only, float16) for transfer/export")
    sl.add_argument("run_dir")
    sl.add_argument("-o", "--out", dest="slim_out", required=True, help="folder for checkpoint/ (config.json and "
                                                                       "model.safetensors)")
    sl.add_argument("--overwrite", action="store_true", help="replace slim weights already in that folder")
    ip = sub.add_parser("interpolate", help="mix a fine-tune's weights with those it started from (WiSE-FT): "
                                            "(1 - alpha) * START + alpha * END, float16")
    ip.add_argument("start", help="the weights the fine-tune started from (safetensors)")
    ip.add_argument("end", help="the fine-tune's weights (safetensors)")
    ip.add_argument("--alpha", type=float, default=0.5, help="share of END, in [0, 1] (default 0.5)")
    ip.add_argument("-o", "--out", dest="interp_out", required=True, help="safetensors file to write")
    mx = sub.add_parser("mix", help="a training set mixed from several corpora (links + train.txt + captions.jsonl)")
    mx.add_argument("mix_out", metavar="OUT", help="new folder for the mixed set")
    mx.add_argument("mix_sources", nargs="+", metavar="PREFIX=FOLDER[:STRIDE]",
                    help="a corpus build (manifest.json) or a folder with train.txt and captions.jsonl; "
                         "every STRIDE-th training clip, linked as OUT/clips/PREFIX_<name>")
    mx.add_argument("--hold-out-seed", type=int, metavar="SEED",
                    help="leave out a corpus build's clips whose piece a corpus of seed SEED puts in its validation "
                         "split (0: the evaluation clips' corpus)")
    mx.add_argument("--hold-out-fraction", type=float, default=0.1, help="that corpus's validation fraction (0.1)")
    mx.add_argument("--exclude-groups", metavar="FILE",
                    help="leave out a corpus build's clips whose group (music21:<piece>, kit:<kit>, ...) is listed "
                         "in FILE, one per line")
    pr = sub.add_parser("probe", help="a held-out loss at the default run's condition (t = 1, no caption, roll-off "
                                      "unknown) per weights file and set of clips, to choose among checkpoints")
    pr.add_argument("--model", dest="probe_model", required=True, help="the model config (JSON) of the weights")
    pr.add_argument("--weights", dest="probe_weights", action="append", required=True, metavar="NAME=SAFETENSORS",
                    help="trained tensors (as --init-weights takes) or a checkpoint folder; repeat for each")
    pr.add_argument("--set", dest="probe_sets", action="append", required=True, metavar="NAME=FOLDER[:COUNT]",
                    help="the first COUNT audio files of FOLDER (all without COUNT); repeat for each set")
    pr.add_argument("--windows", dest="probe_windows", type=int, default=96, help="windows per set (96)")
    pr.add_argument("--batch", dest="probe_batch", type=int, default=16, help="windows per forward pass (16)")
    pr.add_argument("--seed", dest="probe_seed", type=int, default=0, help="windows, degradation and noise (0)")
    pr.add_argument("--json", dest="probe_json", help="also write the table as JSON {weights: {set: loss}}")
    pr.add_argument("--metric", dest="probe_metric", choices=PROBE_METRICS, default="generated",
                    help="generated: the squared flow loss of the generated channels (default); band_lsd: the "
                         "LSD-shaped loss of the one-step pairs above each cutoff (mdct-env models), which follows "
                         "the choice sets where the squared loss does not (model card, fortieth session)")
    pr.add_argument("--training-condition", dest="probe_condition", metavar="CONFIG",
                    help="a training config (JSON): the loss under its own draws (times, hidden roll-offs, tilted "
                         "targets, dropped conditions; no captions) instead of the default run's one step")
    ug = sub.add_parser("untrained-groups", help="the groups (pieces, kits) of corpus builds' clips that no training "
                                                 "set used, one per line (for mix --exclude-groups)")
    ug.add_argument("untrained_corpora", nargs="+", metavar="CORPUS[:TRAINED]",
                    help="a corpus build; TRAINED: a folder of its clips that training used (by file name)")
    ug.add_argument("-o", "--out", dest="groups_out", required=True, help="text file to write")
    ca = sub.add_parser("carry", help="a corpus's training clips, one per piece or kit in turn, as 16-bit FLAC "
                                      "within a size budget (what one call to a lent GPU can carry)")
    ca.add_argument("carry_corpus", metavar="CORPUS", help="a corpus build (manifest.json)")
    ca.add_argument("-o", "--out", dest="carry_out", required=True, help="folder for clips/, train.txt, captions.jsonl")
    ca.add_argument("--max-mb", type=float, default=50.0, help="stop once the copies pass this many MB (50)")
    ca.add_argument("--seed", dest="carry_seed", type=int, default=0, help="the order of the pieces and kits (0)")
    cp = sub.add_parser("carry-parts", help="a training set's listed clips as 16-bit FLAC split into parts of a size "
                                             "budget each (one call to a lent GPU per part)")
    cp.add_argument("parts_folder", metavar="FOLDER", help="a folder with train.txt and captions.jsonl (e.g. `mix`'s)")
    cp.add_argument("-o", "--out", dest="parts_out", required=True, help="folder for the parts a/, b/, ... and the "
                                                                        "listing of all (train.txt, captions.jsonl)")
    cp.add_argument("--part-mb", type=float, nargs="+", required=True, metavar="MB",
                    help="each part's budget (MB; a part takes clips until it passes it)")
    cp.add_argument("--max-seconds", type=float, help="cut each clip to its first this many seconds")
    up = sub.add_parser("unpack", help="verify pieces made by `pack` and rebuild the run (then resume it)")
    up.add_argument("pieces_dir")
    up.add_argument("-o", "--out", dest="unpack_out", required=True, help="run folder to rebuild")
    up.add_argument("--overwrite", action="store_true")
    bl = sub.add_parser("band-level", help="fit the restored band's level to the octave below it (a bundle's "
                                          "defaults.band_level, for noise-excited decoders such as mdct-env)")
    bl.add_argument("corpus", help="folder of 44.1 kHz clips")
    bl.add_argument("--file-list", dest="level_files", help="only these files (paths relative to the corpus)")
    bl.add_argument("--floor-db", dest="level_floor", type=float, help="lowest gain (dB; default -8)")
    bl.add_argument("-o", "--out", dest="level_out", required=True, help="JSON report to write (its band_level "
                                                                         "object goes to sagasr_export --band-level)")
    e = sub.add_parser("export", help="hand a trained checkpoint to sagasr_export (extra flags pass through)",
                       epilog="Every other flag goes to the exporter as it is: -o/--output BUNDLE (required), "
                              "--steps, --quantize-text, --store-fp16, ...; see python -m sagasr_export --help.")
    e.add_argument("checkpoint", help="run folder or checkpoint folder")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if rest and args.command != "export":
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    try:
        if args.command == "captions":
            from .captions import DEFAULT_PROMPT, generate_captions, make_captioner

            kw: dict = {}
            if args.captioner == "qwen2-audio":
                kw = {"device": args.device, "prompt": args.prompt or DEFAULT_PROMPT}
            elif args.captioner == "http":
                kw = {"model": args.api_model, "prompt": args.prompt or DEFAULT_PROMPT, "api_key_env": args.api_key_env}
            if not Path(args.root).is_dir():
                raise ValueError(f"{args.root} is not a folder (the audio to caption)")
            if args.max_seconds is not None and not args.max_seconds > 0:
                raise ValueError(f"--max-seconds must be > 0, got {args.max_seconds}")
            cap = make_captioner(args.captioner, model_path=args.model_path, url=args.url, **kw)
            cache = args.cache or str(Path(args.root) / "captions.jsonl")
            n = generate_captions(args.root, cache, cap, args.max_seconds, args.lowpass_hz, args.overwrite)
            print(f"wrote {n} new caption(s) to {cache}")
            return 0
        if args.command == "pack":
            from .transfer import pack_run

            if not args.piece_mib > 0:
                raise ValueError(f"--piece-mib must be > 0, got {args.piece_mib}")
            index = pack_run(args.run_dir, args.pieces_out, int(args.piece_mib * 1024 * 1024), args.checkpoint_only)
            print(f"{len(index['files'])} files in {len(index['pieces'])} pieces -> {args.pieces_out}")
            return 0
        if args.command == "slim":
            from .transfer import slim_run

            target = Path(args.slim_out) / "checkpoint" / "model.safetensors"
            if target.exists() and not args.overwrite:
                raise FileExistsError(f"{target} exists (another run's slim weights?); pass --overwrite to replace it")
            print(f"trained weights: {slim_run(args.run_dir, args.slim_out)}")
            return 0
        if args.command == "interpolate":
            from .transfer import interpolate_weights

            print(f"interpolated weights: {interpolate_weights(args.start, args.end, args.alpha, args.interp_out)}")
            return 0
        if args.command == "mix":
            from .mix_sets import Holdout, MixSource, mix_sets, read_groups

            holdout = None if args.hold_out_seed is None else Holdout(args.hold_out_seed, args.hold_out_fraction)
            exclude = read_groups(args.exclude_groups) if args.exclude_groups else frozenset()
            count = mix_sets(args.mix_out, [MixSource.parse(t) for t in args.mix_sources], holdout, exclude)
            print(f"{count} clips -> {args.mix_out}/train.txt, {args.mix_out}/captions.jsonl")
            return 0
        if args.command == "probe":
            import json

            from sagasr_stream.files import atomic_write_text

            from .probe import Condition, ProbeSet, markdown, probe

            if args.probe_windows < 1 or args.probe_batch < 1:
                raise ValueError(f"--windows and --batch must be >= 1, got {args.probe_windows}, {args.probe_batch}")
            weights = {}
            for text in args.probe_weights:
                name, sep, path = text.partition("=")
                if not sep or not name or not path:
                    raise ValueError(f"--weights {text!r}: expected NAME=SAFETENSORS")
                weights[name] = path
            condition = Condition.of_training(args.probe_condition) if args.probe_condition else None
            table = probe(args.probe_model, weights, [ProbeSet.parse(t) for t in args.probe_sets],
                          args.probe_windows, args.probe_batch, args.probe_seed, condition, args.probe_metric)
            print(markdown(table), end="")
            if args.probe_json:
                atomic_write_text(Path(args.probe_json), json.dumps(table, indent=1) + "\n")
            return 0
        if args.command == "untrained-groups":
            from sagasr_stream.files import atomic_write_text

            from .mix_sets import untrained_groups

            groups: set[str] = set()
            for text in args.untrained_corpora:
                corpus, colon, trained = text.partition(":")
                groups |= untrained_groups(corpus, trained if colon else None)
            atomic_write_text(Path(args.groups_out), "".join(g + "\n" for g in sorted(groups)))
            print(f"{len(groups)} groups -> {args.groups_out}")
            return 0
        if args.command == "carry":
            from .carry_set import carry_set

            count, size = carry_set(args.carry_corpus, args.carry_out, args.max_mb, args.carry_seed)
            print(f"{count} clips, {size / 1e6:.1f} MB -> {args.carry_out}/train.txt, {args.carry_out}/captions.jsonl")
            return 0
        if args.command == "carry-parts":
            from .carry_set import carry_parts

            sizes = carry_parts(args.parts_folder, args.parts_out, args.part_mb, args.max_seconds)
            for part, (count, size) in sizes.items():
                print(f"{args.parts_out}/{part}: {count} clips, {size / 1e6:.1f} MB")
            return 0
        if args.command == "unpack":
            from .transfer import join_pieces

            files = join_pieces(args.pieces_dir, args.unpack_out, args.overwrite)
            print(f"{len(files)} files verified -> {args.unpack_out}")
            return 0
        if args.command == "band-level":
            from .band_level import measure_corpus, write_report

            floor = {} if args.level_floor is None else {"floor_db": args.level_floor}
            report = measure_corpus(args.corpus, args.level_files, **floor)
            print(f"band level {report['band_level']} over {report['points']} points "
                  f"(correlation {report['correlation']}) -> {write_report(report, args.level_out)}")
            return 0
        if args.command == "export":
            from sagasr_export.cli import main as export_main

            ck = Path(args.checkpoint)
            if (ck / "checkpoint" / "model.safetensors").is_file():
                ck = ck / "checkpoint"
            if not (ck / "model.safetensors").is_file():
                raise ValueError(f"{args.checkpoint}: no model.safetensors (give a diffusion run or its checkpoint folder)")
            return export_main([str(ck), *rest])
        from .train import cache_latents, run, write_scaled_model_config

        cfg = load_train_config(args.config, **train_overrides(args))
        if args.command == "latent-scale":
            stats = write_scaled_model_config(cfg, args.scale_out, args.scale_items)
            scale = np.asarray(stats["latent_scale"])
            print(f"latent_scale {scale.min():g}..{scale.max():g} over {scale.size} channels -> {args.scale_out}")
            return 0
        if args.command == "text-tokens":
            from .train import text_tokens

            print(f"text tokens: {text_tokens(cfg, args.tokens_out)}")
            return 0
        if args.command == "cache-latents":
            print(f"latent cache: {cache_latents(cfg, args.cache_out, args.cache_items, args.cache_batch)}")
            return 0
        out = run(args.command, cfg)
        print(f"checkpoint: {out}")
        return 0
    except (ValueError, FileNotFoundError, FileExistsError, NotADirectoryError, IsADirectoryError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except FloatingPointError as exc:  # a diverged run: not a usage error, but no traceback either
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ModuleNotFoundError as exc:  # `pip install .` installs this command but not torch or Lightning
        if (exc.name or "").split(".")[0] in ("sagasr_stream", "sagasr_export", "sagasr_training"):
            raise
        from sagasr_export.cli import missing_stack_message

        print(f"error: {missing_stack_message(f'sagasr-train {args.command}', exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
