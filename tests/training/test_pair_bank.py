"""In-memory pair bank (training on an analytic-VAE model), its roll-off on torch, target tilts, and moving
the trained weights (slim -> pack -> unpack -> export's --trained-weights)."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from sagasr_stream import degradation, dsp
from sagasr_training.data import DataConfig
from sagasr_training.degrade import (DegradeConfig, brightness_gain_db, brightness_slopes, tilt_gain_db, tilt_slopes,
                                     training_pair)
from sagasr_training.pair_bank import PairBank, rolloff_ratio_torch

TEXT_DIM = 24  # the tiny config's text encoder width


def _tokens(audio_dir: Path, tmp_path: Path) -> Path:
    """A text-token file for every audio file of ``audio_dir`` (random tokens: the bank only indexes them)."""
    from safetensors.torch import save_file

    from sagasr_training.data import scan_audio
    from sagasr_training.pair_bank import TOKENS_FORMAT

    paths = [p.relative_to(audio_dir).as_posix() for p in scan_audio(audio_dir)]
    out = tmp_path / "tokens.safetensors"
    save_file({"tokens": torch.randn(len(paths), 12, TEXT_DIM).half()}, str(out),
              metadata={"format": TOKENS_FORMAT, "paths": json.dumps(paths), "captions": json.dumps([""] * len(paths))})
    return out


def _bank(audio_dir: Path, tmp_path: Path, **degrade_kw) -> PairBank:
    cfg = DataConfig(root=str(audio_dir), text_tokens=str(_tokens(audio_dir, tmp_path)), window_samples=8192,
                     degrade=DegradeConfig(**degrade_kw)).validate()
    return PairBank(cfg, versions=2, workers=1)


def test_rolloff_on_torch_matches_the_runtime_definition() -> None:
    rng = np.random.default_rng(0)
    x = np.stack([degradation.band_limit(rng.standard_normal(16384), 44100, degradation.LowPassSpec("butter", 6, f)) for f in (3000.0, 9000.0, 15000.0)])
    ours = rolloff_ratio_torch(torch.from_numpy(x)).numpy()
    assert np.abs(ours - dsp.rolloff_ratio(x)).max() <= 1.0 / 1025 + 1e-7  # at most one bin apart
    assert rolloff_ratio_torch(torch.zeros(1, 4096)).item() == 0.0


def test_batches_are_deterministic_levelled_and_band_limited(audio_dir: Path, tmp_path: Path) -> None:
    bank = _bank(audio_dir, tmp_path)
    a, b = bank.__getitems__([8, 9, 10, 11]), bank.__getitems__([8, 9, 10, 11])
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["hr"], bank.__getitems__([12, 13, 14, 15])["hr"])
    assert a["hr"].shape == a["lr"].shape == (4, 1, 8192) and a["text_tokens"].shape == (4, 12, TEXT_DIM)
    peaks = a["lr"].abs().amax(dim=-1).flatten()
    assert torch.allclose(peaks[peaks > 0], torch.tensor(0.5), atol=1e-5)  # the runtime's working level
    assert (a["rolloff_in"] <= a["rolloff_out"] + 0.02).all()  # the input is the band-limited one
    assert a["cutoff_hz"].shape == (4,)  # each item's own draw of the band limit
    assert all(np.isclose(bank.cutoff_hz, float(c), rtol=1e-6).any() for c in a["cutoff_hz"])
    assert set(a["lr_keep"].tolist()) <= {0.0, 1.0} and set(a["cross_keep"].tolist()) <= {0.0, 1.0}


def test_target_tilt_lowers_the_target_rolloff(audio_dir: Path, tmp_path: Path) -> None:
    plain = _bank(audio_dir, tmp_path).__getitems__(list(range(32, 48)))
    tilted = _bank(audio_dir, tmp_path, target_tilt_fraction=1.0, target_tilt_db_per_octave=(24.0, 30.0)).__getitems__(list(range(32, 48)))
    assert torch.equal(plain["lr"], tilted["lr"])  # same inputs: only the targets change
    assert tilted["rolloff_out"].mean() < plain["rolloff_out"].mean() - 0.02
    assert not plain["target_tilted"].any() and bool(tilted["target_tilted"].all())  # each item says which it is


def test_tilt_gain_is_flat_below_the_cutoff_and_capped() -> None:
    f = np.array([1000.0, 4000.0, 8000.0, 16000.0])
    assert np.allclose(tilt_gain_db(f, 4000.0, 6.0), [0.0, 0.0, -6.0, -12.0])
    assert np.allclose(tilt_gain_db(f, 4000.0, -9.0), [0.0, 0.0, 9.0, 12.0])
    assert tilt_slopes(np.random.default_rng(0), 4, DegradeConfig()) is None  # off by default: nothing drawn


def _band_db(x: torch.Tensor, low_hz: float, high_hz: float, rate: int = 44100) -> np.ndarray:
    """Mean power in dB of each item of (B, 1, L) between two frequencies."""
    spec = torch.fft.rfft(x[:, 0].double(), dim=-1).abs() ** 2
    f = torch.fft.rfftfreq(x.shape[-1], 1.0 / rate)
    band = spec[:, (f >= low_hz) & (f < high_hz)].mean(dim=-1)
    return (10 * torch.log10(band + 1e-30)).numpy()


def test_brightness_tilts_input_and_target_alike(audio_dir: Path, tmp_path: Path) -> None:
    """A brighter recording: the input's band above the pivot rises by the drawn slope, and so does the
    target's band above the cutoff, relative to the band below the pivot (the levelling removes the rest)."""
    items = list(range(32, 48))
    plain = _bank(audio_dir, tmp_path).__getitems__(items)
    bright = _bank(audio_dir, tmp_path, brightness_fraction=1.0, brightness_db_per_octave=(6.0, 6.0),
                   brightness_pivot_hz=500.0).__getitems__(items)

    def rise(batch: dict, key: str, low_hz: float, high_hz: float) -> np.ndarray:
        return _band_db(batch[key], low_hz, high_hz) - _band_db(batch[key], 100.0, 450.0)

    sounding = _band_db(plain["hr"], 100.0, 450.0) > -200  # the fixture's files have silent stretches
    assert sounding.sum() >= 8
    # 1-2 kHz sits 1-2 octaves above the pivot: about +6..+12 dB, in input and target alike
    for key in ("lr", "hr"):
        gained = (rise(bright, key, 1000.0, 2000.0) - rise(plain, key, 1000.0, 2000.0))[sounding]
        assert np.all((gained > 5.0) & (gained < 13.0)), (key, gained)
    # the target's band above every cutoff (>= 2 kHz) rises at least 12 dB more than the flat band below the pivot
    top = (rise(bright, "hr", 16000.0, 20000.0) - rise(plain, "hr", 16000.0, 20000.0))[sounding]
    assert np.all(top > 12.0) and np.all(top < 18.5), top
    assert bool((bright["rolloff_out"] >= plain["rolloff_out"] - 1e-6).all())  # brighter: the roll-off never falls
    assert not bright["target_tilted"].any()  # a recording's own brightness is natural: its roll-off may be hidden


def test_a_dark_recording_falls_past_the_default_limit_when_told(audio_dir: Path, tmp_path: Path) -> None:
    """Dark material (degrade.brightness_limit_db): the target's top band, 4-5 octaves above the pivot at -18 dB per
    octave, lies far more than the default 18 dB under the plain one's when the limit allows 60 dB."""
    items = list(range(32, 48))
    plain = _bank(audio_dir, tmp_path).__getitems__(items)
    dark = {limit: _bank(audio_dir, tmp_path, brightness_fraction=1.0, brightness_db_per_octave=(-18.0, -18.0),
                         brightness_pivot_hz=1000.0, brightness_limit_db=limit).__getitems__(items)
            for limit in (18.0, 60.0)}

    def fall(batch: dict) -> np.ndarray:
        return (_band_db(batch["hr"], 16000.0, 20000.0) - _band_db(batch["hr"], 100.0, 900.0)
                - _band_db(plain["hr"], 16000.0, 20000.0) + _band_db(plain["hr"], 100.0, 900.0))

    sounding = _band_db(plain["hr"], 100.0, 900.0) > -200
    assert sounding.sum() >= 8
    assert np.all(np.abs(fall(dark[18.0])[sounding] + 18.0) < 1.0)
    assert np.all(fall(dark[60.0])[sounding] < -55.0)


def test_brightness_gain_is_flat_below_the_pivot_and_capped() -> None:
    f = np.array([250.0, 1000.0, 2000.0, 8000.0, 1e6])
    assert np.allclose(brightness_gain_db(f, 1000.0, 3.0), [0.0, 0.0, 3.0, 9.0, 18.0])
    assert np.allclose(brightness_gain_db(f, 1000.0, -4.0), [0.0, 0.0, -4.0, -12.0, -18.0])
    assert np.allclose(brightness_gain_db(torch.from_numpy(f), 1000.0, 3.0, xp=torch).numpy(), [0.0, 0.0, 3.0, 9.0, 18.0])
    # a dark recording's top band lies 40-70 dB down: the limit is a setting (degrade.brightness_limit_db)
    assert np.allclose(brightness_gain_db(f, 1000.0, -12.0, limit_db=60.0), [0.0, 0.0, -12.0, -36.0, -60.0])
    assert brightness_slopes(np.random.default_rng(0), 4, DegradeConfig()) is None  # off by default: nothing drawn
    half = brightness_slopes(np.random.default_rng(0), 4000, DegradeConfig(brightness_fraction=0.5))
    assert 0.45 < float((half != 0).mean()) < 0.55 and half.min() >= -3.0 and half.max() <= 3.0


def test_training_pair_brightness_keeps_the_input_band_limited() -> None:
    """The file-reading path applies the same tilt to both: the input stays band-limited at its cutoff."""
    hr = np.random.default_rng(1).standard_normal(16384).astype(np.float32) * 0.1
    cfg = DegradeConfig(brightness_fraction=1.0, brightness_db_per_octave=(3.0, 3.0), plain_resample_fraction=0.0)
    d, plain = training_pair(hr, np.random.default_rng(4), cfg), training_pair(hr, np.random.default_rng(4), DegradeConfig())
    assert d.spec == plain.spec and not d.target_tilted
    assert d.rolloff_in <= plain.rolloff_in + 0.02 and d.rolloff_out > plain.rolloff_out
    f = np.fft.rfftfreq(hr.size, 1 / 44100)
    stop = f > 1.5 * d.spec.cutoff_hz
    if stop.any():
        below = np.abs(np.fft.rfft(d.lr))[f < 0.5 * d.spec.cutoff_hz].mean()
        assert np.abs(np.fft.rfft(d.lr))[stop].mean() < 0.1 * below


@pytest.mark.parametrize("bad, match", [
    ({"brightness_fraction": 1.5}, "brightness_fraction"),
    ({"brightness_db_per_octave": (3.0, -3.0)}, "brightness_db_per_octave"),
    ({"brightness_pivot_hz": 0.0}, "brightness_pivot_hz"),
])
def test_brightness_settings_are_checked(bad: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        DegradeConfig(**bad).validate()


def test_degrade_without_tilt_or_plain_resample_is_unchanged() -> None:
    """The new options default to off and draw nothing: old runs see exactly the data they saw."""
    hr = np.random.default_rng(1).standard_normal(8192).astype(np.float32) * 0.1
    d = training_pair(hr, np.random.default_rng([0, 1, 5]), DegradeConfig())
    rng = np.random.default_rng([0, 1, 5])
    spec = degradation.draw_lowpass(rng)
    assert spec == d.spec and np.array_equal(d.lr, degradation.band_limit(hr, 44100, spec) * d.gain)


def test_slim_pack_unpack_and_export_with_trained_weights(tmp_path: Path) -> None:
    from sagasr_export.model.checkpoint import load_trained_weights, save_checkpoint
    from sagasr_export.model import build_model, named_config
    from sagasr_training.transfer import join_pieces, pack_run, slim_run

    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trained = build_model(named_config("tiny"))
        save_checkpoint(trained, tmp_path / "run" / "checkpoint")
        weights = slim_run(tmp_path / "run", tmp_path / "slim")
        pack_run(tmp_path / "slim", tmp_path / "pieces", 4096, checkpoint_only=True)
        join_pieces(tmp_path / "pieces", tmp_path / "back")
        fresh = build_model(named_config("tiny"))
    assert sorted(p.name for p in (tmp_path / "back" / "checkpoint").iterdir()) == ["config.json", "model.safetensors"]
    assert load_trained_weights(fresh, tmp_path / "back" / "checkpoint" / "model.safetensors") > 0
    for k, v in trained.state_dict().items():
        if k.startswith(("dit.", "conditioner.")):
            assert torch.allclose(fresh.state_dict()[k], v.half().float())
    with pytest.raises(ValueError, match="does not fit"):
        other = json.loads(json.dumps(named_config("tiny").to_dict()))
        other["dit"]["embed_dim"] = 128
        load_trained_weights(build_model(other), weights)


def test_exporting_a_slim_folder_as_a_checkpoint_says_how_to_export_it(tmp_path: Path, capsys) -> None:
    """``sagasr-train export SLIM`` (a slim folder holds config.json and model.safetensors, like a checkpoint)
    used to fail with a FileNotFoundError for vocab.txt; it now says the file holds only the trained weights and
    which flags export them."""
    from sagasr_training.cli import main

    weights = _slim_tiny(tmp_path, 0, "run")
    assert main(["export", str(tmp_path / "run-slim"), "-o", str(tmp_path / "bundle")]) == 2
    err = capsys.readouterr().err
    assert "holds only the trained weights (sagasr-train slim)" in err
    assert f"--random-config MODEL.json --trained-weights {weights}" in err
    assert not (tmp_path / "bundle").exists()


def test_a_slim_of_a_run_on_its_own_vae_carries_that_vae(tmp_path: Path) -> None:
    """A run trained with --vae-weights: its slim file used to hold only the DiT, so an export with
    --random-config built a random VAE in its place without a word."""
    from sagasr_export.model import build_model, named_config
    from sagasr_export.model.checkpoint import load_trained_weights, save_checkpoint
    from sagasr_training.transfer import slim_run

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.manual_seed(1)
        trained = build_model(named_config("tiny"))  # stands in for a run whose VAE came from a VAE run
        save_checkpoint(trained, tmp_path / "run" / "checkpoint")
        (tmp_path / "run" / "run.json").write_text(json.dumps({"kind": "diffusion", "vae_weights": "vae/checkpoint"}))
        weights = slim_run(tmp_path / "run", tmp_path / "slim")
        (tmp_path / "plain" / "checkpoint").mkdir(parents=True)
        save_checkpoint(trained, tmp_path / "plain" / "checkpoint")
        plain = slim_run(tmp_path / "plain", tmp_path / "plain_slim")  # no run.json: the config's own VAE
        torch.manual_seed(2)
        fresh = build_model(named_config("tiny"))
    load_trained_weights(fresh, weights)
    for k, v in trained.state_dict().items():
        if k.startswith("autoencoder."):
            assert torch.equal(fresh.state_dict()[k], v), k
    from safetensors.torch import load_file

    assert not [k for k in load_file(str(plain)) if k.startswith("autoencoder.")]


def _slim_tiny(tmp_path: Path, seed: int, name: str, embed_dim: int | None = None,
               slope_condition: bool = False) -> Path:
    """Slim weights of a tiny model (``slope_condition``: with the slope condition, its embedding trained: random)."""
    from sagasr_export.model import build_model, named_config
    from sagasr_export.model.checkpoint import save_checkpoint
    from sagasr_training.transfer import slim_run

    config = json.loads(json.dumps(named_config("tiny").to_dict()))
    if embed_dim:
        config["dit"]["embed_dim"] = embed_dim
    config["dit"]["slope_condition"] = slope_condition
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = build_model(config)
        if slope_condition:
            with torch.no_grad():
                for p in model.conditioner.slope_in.parameters():
                    p.copy_(torch.randn_like(p))
        save_checkpoint(model, tmp_path / name / "checkpoint")
    return slim_run(tmp_path / name, tmp_path / f"{name}-slim")


def test_interpolated_weights_lie_on_the_line_between_start_and_fine_tune(tmp_path: Path) -> None:
    from safetensors.torch import load_file

    from sagasr_training.cli import main
    from sagasr_training.transfer import interpolate_weights

    start, end = _slim_tiny(tmp_path, 0, "start"), _slim_tiny(tmp_path, 1, "end")
    a, b = load_file(str(start)), load_file(str(end))
    for alpha in (0.0, 1.0):
        got = load_file(str(interpolate_weights(start, end, alpha, tmp_path / f"w{alpha}.safetensors")))
        assert all(torch.equal(got[k], (b if alpha else a)[k]) for k in a)
    assert main(["interpolate", str(start), str(end), "--alpha", "0.25", "-o", str(tmp_path / "q.safetensors")]) == 0
    quarter = load_file(str(tmp_path / "q.safetensors"))
    moved = [k for k in a if not torch.equal(a[k], b[k])]
    assert moved and quarter.keys() == a.keys() and all(quarter[k].dtype == torch.float16 for k in a)
    for k in moved:
        assert torch.allclose(quarter[k].float(), 0.75 * a[k].float() + 0.25 * b[k].float(), atol=1e-3, rtol=1e-3)


def test_interpolation_with_a_model_from_before_the_slope_condition_scales_what_it_adds(tmp_path: Path) -> None:
    """v3.9 and a fine-tune of it that grew the slope condition: the start holds none of its weights, so it counts
    as the zero-initialised addition it was (output layer 0), and the mix scales what the condition adds."""
    from safetensors.torch import load_file

    from sagasr_export.model import build_model, named_config
    from sagasr_export.model.checkpoint import load_trained_weights
    from sagasr_training.transfer import interpolate_weights

    start, end = _slim_tiny(tmp_path, 0, "start"), _slim_tiny(tmp_path, 1, "end", slope_condition=True)
    b = load_file(str(end))
    mixed = load_file(str(interpolate_weights(start, end, 0.25, tmp_path / "mixed.safetensors")))
    grown = [k for k in b if k.startswith("conditioner.slope_in.")]
    assert grown and set(mixed) == set(b)
    for k in grown:
        want = 0.25 * b[k].float() if ".embedding.1." in k else b[k].float()  # the output layer scaled, the rest kept
        assert torch.allclose(mixed[k].float(), want, atol=1e-3, rtol=1e-3), k
    config = named_config("tiny")
    config.dit.slope_condition = True
    assert load_trained_weights(build_model(config), tmp_path / "mixed.safetensors") == len(b)
    with pytest.raises(ValueError, match="other trained weights"):  # the other way round is no fine-tune of it
        interpolate_weights(end, start, 0.5, tmp_path / "x.safetensors")


def test_interpolation_refuses_other_networks_and_alphas_outside_0_1(tmp_path: Path) -> None:
    from sagasr_training.transfer import interpolate_weights

    start = _slim_tiny(tmp_path, 0, "start")
    with pytest.raises(ValueError, match="alpha must be in"):
        interpolate_weights(start, start, 1.5, tmp_path / "x.safetensors")
    with pytest.raises(ValueError, match="differ in shape|other trained weights"):
        interpolate_weights(start, _slim_tiny(tmp_path, 0, "wide", embed_dim=128), 0.5, tmp_path / "x.safetensors")
    assert not (tmp_path / "x.safetensors").exists()


def test_hidden_rolloffs_take_the_unknown_value_at_the_asked_share() -> None:
    from sagasr_stream.settings import ROLLOFF_UNKNOWN
    from sagasr_training.lightning_module import hide_rolloffs
    from sagasr_training.train import TrainConfig

    rolloffs = torch.full((4000,), 0.6)
    assert hide_rolloffs(rolloffs, 0.0, torch.Generator().manual_seed(0)) is rolloffs
    hidden = hide_rolloffs(rolloffs, 0.3, torch.Generator().manual_seed(0))
    share = float((hidden == ROLLOFF_UNKNOWN).float().mean())
    assert 0.27 < share < 0.33 and bool(((hidden == ROLLOFF_UNKNOWN) | (hidden == 0.6)).all())
    again = hide_rolloffs(rolloffs, 0.3, torch.Generator().manual_seed(0))
    assert torch.equal(hidden, again)
    with pytest.raises(ValueError, match="rolloff_unknown_fraction"):
        TrainConfig(rolloff_unknown_fraction=1.5).validate()


def test_dropped_captions_are_the_runtimes_empty_caption() -> None:
    """A dropped caption is all-zero text tokens (what the runtime feeds for ""), at the asked share of rows;
    the other rows are untouched."""
    from sagasr_training.lightning_module import drop_captions
    from sagasr_training.train import TrainConfig

    tokens = torch.randn(4000, 6, TEXT_DIM)
    assert drop_captions(tokens, 0.0, torch.Generator().manual_seed(0)) is tokens
    dropped = drop_captions(tokens, 0.3, torch.Generator().manual_seed(0))
    empty = (dropped == 0).flatten(1).all(dim=1)
    assert 0.27 < float(empty.float().mean()) < 0.33
    assert torch.equal(dropped[~empty], tokens[~empty])
    assert torch.equal(dropped, drop_captions(tokens, 0.3, torch.Generator().manual_seed(0)))
    with pytest.raises(ValueError, match="caption_dropout"):
        TrainConfig(caption_dropout=-0.1).validate()


def test_only_natural_targets_have_their_rolloff_hidden() -> None:
    """'Unknown' must mean the recording's own roll-off: a tilted target's roll-off is always given."""
    from sagasr_stream.settings import ROLLOFF_UNKNOWN
    from sagasr_training.lightning_module import hide_rolloffs

    rolloffs = torch.full((4000,), 0.6)
    tilted = torch.arange(4000) % 2 == 0
    hidden = hide_rolloffs(rolloffs, 0.5, torch.Generator().manual_seed(0), tilted) == ROLLOFF_UNKNOWN
    assert not hidden[tilted].any()
    assert 0.45 < float(hidden[~tilted].float().mean()) < 0.55


def test_training_pair_says_whether_its_target_was_tilted() -> None:
    hr = np.random.default_rng(1).standard_normal(8192).astype(np.float32) * 0.1
    always = DegradeConfig(target_tilt_fraction=1.0, target_tilt_db_per_octave=(6.0, 12.0))
    assert training_pair(hr, np.random.default_rng(3), always).target_tilted
    assert not training_pair(hr, np.random.default_rng(3), DegradeConfig()).target_tilted


class _CharEncoder:
    """The frozen text encoder's interface (tokenize, encode_text) in a few lines: token j of a caption is its
    j-th character code, so the tokens show which caption was encoded."""

    def tokenize(self, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        ids = torch.tensor([[ord(c) for c in (t + " " * 12)[:12]] for t in captions])
        return ids, torch.ones_like(ids)

    def encode_text(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return ids[..., None].float().expand(*ids.shape, TEXT_DIM) * mask[..., None]


def _decode(tokens: torch.Tensor) -> str:
    return "".join(chr(int(c)) for c in tokens[:, 0]).rstrip()


def test_caption_variants_are_encoded_and_drawn_per_item(audio_dir: Path, tmp_path: Path) -> None:
    from sagasr_training.captions import caption_variants
    from sagasr_training.data import scan_audio
    from sagasr_training.pair_bank import write_text_tokens

    files = [p.relative_to(audio_dir).as_posix() for p in scan_audio(audio_dir)]
    captions = {f: (f"Viola, 120 BPM, piece {i}" if i % 2 else f"Drum groove on the K{i} kit: snare and kick, 90 BPM")
                for i, f in enumerate(files)}
    cache = tmp_path / "captions.jsonl"
    cache.write_text("".join(json.dumps({"path": f, "caption": c}) + "\n" for f, c in captions.items()))
    data = DataConfig(root=str(audio_dir), captions=str(cache), caption_variants=True, window_samples=8192)
    out = write_text_tokens(_CharEncoder(), data, tmp_path / "tokens.safetensors")
    from safetensors import safe_open

    with safe_open(str(out), "pt") as f:
        tokens, counts = f.get_tensor("tokens"), f.get_tensor("counts")
    assert tokens.shape == (len(files), 5, 12, TEXT_DIM)
    for i, f in enumerate(files):
        phrasings = caption_variants(captions[f])
        assert counts[i] == len(phrasings)
        assert [_decode(tokens[i, k]) for k in range(len(phrasings))] == [p[:12].rstrip() for p in phrasings]

    bank = PairBank(DataConfig(root=str(audio_dir), text_tokens=str(out), window_samples=8192,
                               file_list=None).validate(), versions=1, workers=1)
    indices = list(range(64, 128))
    first, again = bank.__getitems__(indices), bank.__getitems__(indices)
    assert torch.equal(first["text_tokens"], again["text_tokens"])
    drawn = {_decode(t) for t in first["text_tokens"]}
    every = {p[:12].rstrip() for c in captions.values() for p in caption_variants(c)}
    assert drawn <= every and len(drawn) > len(files)  # more than one phrasing per clip, none made up
    assert "drums" in drawn and "solo viola" in drawn


def test_one_phrasing_per_clip_reads_as_before(audio_dir: Path, tmp_path: Path) -> None:
    """A (clips, S, D) token file: every item gets its clip's one caption, as before variants existed."""
    bank = _bank(audio_dir, tmp_path)
    with __import__("safetensors").safe_open(str(bank.cfg.text_tokens), "pt") as f:
        tokens = f.get_tensor("tokens")
    rng = np.random.default_rng([bank.cfg.seed, 5, 8, 4])
    weights = np.maximum(bank.lengths - 8192, 1) / np.maximum(bank.lengths - 8192, 1).sum()
    clip = rng.choice(len(bank.lengths), size=4, p=weights)
    assert torch.equal(bank.__getitems__([8, 9, 10, 11])["text_tokens"], tokens[torch.from_numpy(clip)].float())


def test_pinned_times_are_exactly_one_at_the_asked_share() -> None:
    """time_one_fraction: that share of the times is 1 exactly (the one-step sampler's time), the rest untouched."""
    from sagasr_training.objectives import logit_normal, pin_times
    from sagasr_training.train import TrainConfig

    t = logit_normal((4000,), torch.Generator().manual_seed(0))
    assert float(t.max()) < 0.9999 and pin_times(t, 0.0, torch.Generator().manual_seed(1)) is t
    pinned = pin_times(t, 0.5, torch.Generator().manual_seed(1))
    at_one = pinned == 1.0
    assert 0.47 < float(at_one.float().mean()) < 0.53
    assert torch.equal(pinned[~at_one], t[~at_one])
    assert torch.equal(pinned, pin_times(t, 0.5, torch.Generator().manual_seed(1)))
    with pytest.raises(ValueError, match="time_one_fraction"):
        TrainConfig(time_one_fraction=1.2).validate()


def test_the_file_list_chooses_the_clips_and_their_rows_of_the_token_file(audio_dir: Path, tmp_path: Path) -> None:
    """A token file for every clip and a file list naming two of them (in another order): the bank holds those
    two, each with its own tokens; a listed file the token file lacks is an error naming it."""
    import dataclasses
    import shutil

    corpus = Path(shutil.copytree(audio_dir, tmp_path / "corpus"))
    tokens_file = _tokens(corpus, tmp_path)
    with __import__("safetensors").safe_open(str(tokens_file), "pt") as f:
        tokens, paths = f.get_tensor("tokens"), json.loads(f.metadata()["paths"])
    chosen = ["guitar/strum_d.wav", "piano/piano_a.wav"]
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join(chosen) + "\n")
    cfg = DataConfig(root=str(corpus), text_tokens=str(tokens_file), file_list=str(listing),
                     window_samples=8192).validate()
    bank = PairBank(cfg, versions=1, workers=1)
    assert len(bank.lengths) == 2
    assert torch.equal(bank.tokens[:, 0], tokens[[paths.index(p) for p in chosen]])
    assert len(PairBank(dataclasses.replace(cfg, file_list=None), versions=1, workers=1).lengths) == len(paths)
    shutil.copy(corpus / "guitar" / "strum_c.wav", corpus / "extra.wav")
    listing.write_text("guitar/strum_c.wav\nextra.wav\n")
    with pytest.raises(ValueError, match="no tokens for 1 file.*extra.wav"):
        PairBank(cfg, versions=1, workers=1)


def test_clips_shorter_than_a_window_are_zero_padded(tmp_path: Path) -> None:
    """As WindowDataset pads them (an IndexError from torch before)."""
    from .conftest import tone_clip, write_audio

    root = tmp_path / "short"
    for i in range(2):
        write_audio(root / f"s{i}.wav", tone_clip(44100, 1, 0.1, 220.0, i), 44100)
    cfg = DataConfig(root=str(root), text_tokens=str(_tokens(root, tmp_path)), window_samples=8192).validate()
    batch = PairBank(cfg, versions=2, workers=1).__getitems__([0, 1, 2])
    assert batch["hr"].shape == (3, 1, 8192)
    assert (batch["hr"][..., 4410:] == 0).all() and (batch["hr"][..., :4410].abs().amax(dim=-1) > 0).all()


def test_text_tokens_of_an_empty_folder_is_a_clear_error(tmp_path: Path) -> None:
    from sagasr_training.pair_bank import write_text_tokens

    with pytest.raises(ValueError, match="no audio files under"):
        write_text_tokens(None, DataConfig(root=str(tmp_path)), tmp_path / "tokens.safetensors")


def test_a_pair_bank_names_every_damaged_clip_before_decoding(tmp_path: Path) -> None:
    """The bank decoded its clips in worker processes: a garbage file stopped it with the decoder's message, a cut
    one was taken with zeros for its missing part."""
    from .test_data import DAMAGED, _damaged_folder

    root = _damaged_folder(tmp_path / "data")
    cfg = DataConfig(root=str(root), text_tokens=str(_tokens(root, tmp_path)), window_samples=8192).validate()
    with pytest.raises(ValueError, match=f"^6 of 8 audio files under {root} cannot be trained on") as caught:
        PairBank(cfg, versions=1, workers=1)
    assert all(str(root / name) in str(caught.value) for name in DAMAGED)
