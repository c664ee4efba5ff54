"""The guidance study measures what a model that obeys its guidance would show."""
from __future__ import annotations

import numpy as np
import pytest

from sagasr_stream.degradation import LowPassSpec, band_limit
from sagasr_stream.evaluation.guidance import contradicting_caption, guidance_study, measured_rolloff_hz
from sagasr_stream.settings import RestoreSettings

SR = 44100


def white(seconds: float, seed: int) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(int(seconds * SR))).astype(np.float32)


def obedient(audio: np.ndarray, settings: RestoreSettings) -> np.ndarray:
    """A stand-in model: fills the band with white noise low-passed at the target roll-off; guidance off
    halves the filled band; a caption about drums adds a little, "solo flute" a lot."""
    target = settings.target_rolloff_hz or 16000.0
    fill = band_limit(white(audio.size / SR, 1), SR, LowPassSpec("butter", 10, target), resample=False)
    if settings.cfg_text == 0.0:
        fill *= 0.5
    caption = settings.caption or ""
    fill *= 1.0 + (0.5 if caption == "solo flute" else 0.05 if caption else 0.0)
    return (audio + fill).astype(np.float32)


def test_guidance_study_sees_the_target_rolloff_guidance_and_captions():
    clips = {"a": white(1.0, 2), "b": white(1.0, 3)}
    study = guidance_study(obedient, clips, RestoreSettings(), {"a": "drum kit", "b": "drum loop"}, cutoff_hz=8000.0)
    r = study["rolloff"]
    assert r["high_mean_hz"] - r["low_mean_hz"] == pytest.approx(r["mean_difference_hz"])
    assert 5000 < r["mean_difference_hz"] < 9000 and r["share_right_direction"] == 1.0
    assert r["input_mean_hz"] < 8500 < r["reference_mean_hz"]
    assert study["guidance_off"]["lsd_hf_off"] != study["guidance_off"]["lsd_hf_default"]
    c = study["caption"]
    assert c["change_contradicting"] > 10 * c["change_matching"] > 0 and c["share_contradicting_larger"] == 1.0
    assert [row["caption_contradicting"] for row in study["clips"]] == ["solo flute", "solo flute"]
    # each caption's output is scored against the reference (a louder fill: nearer this white-noise reference)
    assert c["lsd_hf_matching"] == pytest.approx(np.mean([row["lsd_hf_matching"] for row in study["clips"]]))
    assert 0 < c["lsd_hf_contradicting"] < c["lsd_hf_matching"] < study["guidance_off"]["lsd_hf_default"] + 1e-9


def test_contradicting_caption_and_rolloff_measure():
    assert contradicting_caption("Solo piano, slow") == "drum kit"
    assert contradicting_caption("a rock drum kit with hi-hats") == "solo flute"
    x = band_limit(white(1.0, 4), SR, LowPassSpec("cheby1", 8, 6000.0), resample=False)
    assert 5500 < measured_rolloff_hz(x) < 7000  # the 98.5 % magnitude point lies on the filter skirt
    assert measured_rolloff_hz(white(1.0, 5)) > 21000


def test_guidance_study_without_a_text_encoder_skips_the_captions():
    from sagasr_stream.evaluation.guidance import guidance_markdown

    study = guidance_study(obedient, {"a": white(0.5, 2)}, RestoreSettings(), with_captions=False)
    assert study["caption"] is None and "caption_matching" not in study["clips"][0]
    assert "no text encoder" in guidance_markdown(study)


def test_clips_without_a_caption_of_their_own_are_left_out_of_the_caption_comparison():
    from sagasr_stream.evaluation.guidance import guidance_markdown

    clips = {"a": white(0.5, 2), "b": white(0.5, 3), "c": white(0.5, 4), "d": white(0.5, 5)}
    study = guidance_study(obedient, clips, RestoreSettings(), {"a": "drum kit", "c": " ", "d": "Music"})
    rows = {row["clip"]: row for row in study["clips"]}
    assert rows["a"]["caption_contradicting"] == "solo flute"
    assert all("caption_contradicting" not in rows[n] for n in "bcd")  # no "drum kit" guessed for a drum clip
    c = study["caption"]
    assert c["n_clips"] == 1 and c["n_left_out"] == 3 and c["change_matching"] == rows["a"]["change_matching"]
    assert "| 1 / 3 |" in guidance_markdown(study)
    none = guidance_study(obedient, {"b": white(0.5, 3)}, RestoreSettings())
    assert none["caption"] == {"n_clips": 0, "n_left_out": 1} and "no clip has a caption of its own" in guidance_markdown(none)
