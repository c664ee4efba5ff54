"""``sagasr-train`` flags are derived from the training config dataclasses: one flag per field (the fields the
model config sets excepted), parsing them gives the config back, and every hand-written flag of before still
parses to the same config key."""
from __future__ import annotations

import dataclasses
import json
import sys

import pytest

from sagasr_stream.cli.fields import to_argv
from sagasr_training.cli import TRAIN_FLAGS, build_parser, train_overrides
from sagasr_training.config import DataConfig, TrainConfig, load_train_config
from sagasr_training.degrade import DegradeConfig

TRAIN_VERBS = ["vae", "diffusion", "cache-latents", "latent-scale", "text-tokens"]
VERB_REQUIRED = {"cache-latents": ["--out", "c.safetensors", "--items", "4"], "latent-scale": ["--out", "m.json"],
                 "text-tokens": ["--out", "t.safetensors"]}
#: set from the model config at run time (train.py overwrites them), so only a config file names them
MODEL_SET = {"data.sample_rate", "data.window_samples", "data.degrade.input_peak"}


def all_fields(cls: type, prefix: str = "") -> list[str]:
    names = []
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(f.default_factory if f.default_factory is not dataclasses.MISSING else None):
            names += all_fields(f.default_factory, f"{prefix}{f.name}.")  # type: ignore[arg-type]
        else:
            names.append(prefix + f.name)
    return names


def overrides(verb: str, argv: list[str]) -> dict:
    return train_overrides(build_parser().parse_args([verb, *VERB_REQUIRED.get(verb, []), *argv]))


def test_every_config_field_has_one_flag_except_those_the_model_config_sets():
    fields = all_fields(TrainConfig)
    assert {"data.root", "data.degrade.cutoff_min_hz", "betas"} <= set(fields)
    dests = [fl.dest for fl in TRAIN_FLAGS]
    assert sorted(dests) == sorted(set(fields) - MODEL_SET)
    assert len({fl.flag for fl in TRAIN_FLAGS}) == len(TRAIN_FLAGS)


# every flag sagasr-train had before the flags were derived, and the config key it set
OLD_FLAGS = {
    "--model": ("model", "tiny"), "--data": ("data.root", "audio"), "--captions": ("data.captions", "c.jsonl"),
    "--file-list": ("data.file_list", "train.txt"), "--latent-cache": ("data.latent_cache", "c.safetensors"),
    "--text-tokens": ("data.text_tokens", "t.safetensors"), "--bank-versions": ("data.bank_versions", 16),
    "--bank-workers": ("data.bank_workers", 2), "--max-minutes": ("max_minutes", 1.5),
    "--workers": ("data.num_workers", 3), "--val-fraction": ("data.val_fraction", 0.1), "--run-dir": ("run_dir", "r"),
    "--max-steps": ("max_steps", 10), "--batch-size": ("batch_size", 2), "--accumulate": ("accumulate", 4),
    "--lr": ("lr", 0.001), "--ema-decay": ("ema_decay", 0.99), "--grad-clip": ("grad_clip", 0.5),
    "--lsd-weight": ("lsd_weight", 0.25), "--vae-parts": ("vae_parts", "decoder"), "--seed": ("seed", 5),
    "--save-every": ("save_every", 7), "--val-every": ("val_every", 8), "--val-batches": ("val_batches", 2),
    "--log-every": ("log_every", 1), "--accelerator": ("accelerator", "cpu"), "--devices": ("devices", 2),
    "--num-nodes": ("num_nodes", 2), "--strategy": ("strategy", "ddp"), "--precision": ("precision", "32-true"),
    "--vae-weights": ("vae_weights", "v"), "--init-checkpoint": ("init_checkpoint", "ck"),
    "--init-weights": ("init_weights", "w.safetensors"),
}


@pytest.mark.parametrize("verb", TRAIN_VERBS)
def test_every_old_flag_still_sets_the_same_key(verb):
    for flag, (key, value) in OLD_FLAGS.items():
        assert overrides(verb, [flag, str(value)]) == {key: value}, flag
    assert overrides(verb, ["--no-resume", "--no-progress"]) == {"resume": False, "progress": False}
    assert overrides(verb, ["--devices", "auto"]) == {"devices": "auto"}
    assert overrides(verb, []) == {}


def test_flags_round_trip_to_the_same_config():
    config = TrainConfig(
        model="tiny", run_dir="runs/x", init_checkpoint="ck", vae_weights="vae", max_steps=12, batch_size=3, lr=2e-4,
        betas=(0.8, 0.95), devices=2, vae_parts="decoder", activation_checkpointing=True, progress=False,
        max_minutes=2.5, resume=False,
        data=DataConfig(root="audio", captions="c.jsonl", bank_versions=4, val_fraction=0.25, silence_db=-50.0,
                        seed=9, num_workers=2,
                        degrade=DegradeConfig(cutoff_min_hz=3000.0, cutoff_max_hz=9000.0, order_min=4,
                                              families=("butter", "ellip"), resample=False,
                                              target_tilt_db_per_octave=(-3.0, 12.0))),
    )
    for verb in TRAIN_VERBS:
        assert load_train_config(None, **overrides(verb, to_argv(config, TRAIN_FLAGS))) == config
    assert load_train_config(None, **overrides("vae", to_argv(TrainConfig(), TRAIN_FLAGS))) == TrainConfig()


def test_flags_override_the_config_file_key_by_key(tmp_path):
    path = tmp_path / "run.json"
    path.write_text('{"model": "small", "lr": 0.5, "data": {"root": "a", "degrade": {"cutoff_min_hz": 4000.0}}}')
    cfg = load_train_config(path, **overrides("diffusion", ["--lr", "0.25", "--degrade-cutoff-max-hz", "8000"]))
    assert (cfg.model, cfg.lr, cfg.data.root) == ("small", 0.25, "a")
    assert (cfg.data.degrade.cutoff_min_hz, cfg.data.degrade.cutoff_max_hz) == (4000.0, 8000.0)


@pytest.mark.parametrize("raw, key", [
    ({"lr": "1e-4"}, "lr"),                                   # a string, not a number
    ({"resume": "false"}, "resume"),                          # truthy: resumed before
    ({"betas": 0.9}, "betas"),
    ({"batch_size": 2.5}, "batch_size"),
    ({"data": {"seed": "1"}}, "data.seed"),
    ({"data": {"degrade": {"families": "butter"}}}, "data.degrade.families"),  # split into letters before
    ({"data": ["root"]}, "data"),
])
def test_config_values_of_the_wrong_type_are_errors_naming_the_key(raw: dict, key: str) -> None:
    with pytest.raises(ValueError, match=rf"^{key} must be"):
        load_train_config(raw)


def test_a_config_file_that_is_not_a_json_object_names_the_file(tmp_path) -> None:
    for text in ('{"model": "tiny",', "[1]"):
        (tmp_path / "c.json").write_text(text)
        with pytest.raises(ValueError, match="c.json"):
            load_train_config(tmp_path / "c.json")


@pytest.mark.parametrize("bad, key", [
    ({"grad_clip": -1.0}, "grad_clip"),         # a negative norm flips the gradients
    ({"val_batches": -1}, "val_batches"),       # a Lightning traceback before
    ({"max_minutes": 0.0}, "max_minutes"),      # stopped at once, saving nothing
    ({"val_every": -1}, "val_every"),
    ({"save_every": -2}, "save_every"),
    ({"data.seed": -1}, "data.seed"),           # numpy's "expected non-negative integer" mid-run before
    ({"data.num_workers": -1}, "num_workers"),
])
def test_out_of_range_values_are_refused_before_the_run(tmp_path, bad: dict, key: str) -> None:
    with pytest.raises(ValueError, match=key):
        load_train_config({"data": {"root": str(tmp_path)}}, **bad).validate()


def test_a_training_verb_without_torch_says_what_to_install(tmp_path, capsys, monkeypatch):
    """`pip install .` installs sagasr-train but not torch: a verb that needs it names what to run, no traceback."""
    from sagasr_training.cli import main

    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` fail
    monkeypatch.delitem(sys.modules, "sagasr_training.train", raising=False)  # imported afresh, so it needs torch
    assert main(["diffusion", "--model", "tiny", "--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "bash export/install.sh" in err and "missing: torch" in err and "sagasr-train diffusion" in err


def test_an_empty_flag_clears_a_path_the_config_file_sets(tmp_path) -> None:
    """training/configs/small-cpu.json names data/corpus/captions.jsonl and train.txt: on one's own corpus without
    them there was no way to unset them ("data.captions '' is not a file")."""
    path = tmp_path / "c.json"
    path.write_text('{"data": {"root": "a", "captions": "x/captions.jsonl", "file_list": "x/train.txt"}, '
                    '"vae_weights": "v"}')
    cfg = load_train_config(path, **overrides("cache-latents", ["--captions", "", "--file-list", "",
                                                                "--vae-weights", ""]))
    assert (cfg.data.captions, cfg.data.file_list, cfg.vae_weights, cfg.data.root) == (None, None, None, "a")


def test_a_runs_own_run_json_reads_back_as_its_config(tmp_path) -> None:
    """run.json ("the resolved config", with the run's kind) is what `--config run.json` suggests; it was refused:
    unknown key(s) in config: ['kind']."""
    from sagasr_training.config import to_json

    cfg = load_train_config({"model": "tiny", "lr": 0.5, "data": {"root": "a"}})
    (tmp_path / "run.json").write_text(json.dumps({"kind": "diffusion", **to_json(cfg)}))
    assert load_train_config(tmp_path / "run.json") == cfg
