"""``sagasr-train band-level``: the level fit a noise-excited bundle ships, measured on a corpus."""
from __future__ import annotations

import json

import numpy as np
import pytest

from sagasr_stream.errors import BundleError
from sagasr_training.band_level import clip_points, fit_band_level, measure_corpus, noise_peakiness_db
from sagasr_training.cli import main

from .conftest import write_audio

SR = 44100


def harmonic(seconds: float, f0: float, noise: float, seed: int) -> np.ndarray:
    """Harmonics of ``f0`` up to 20 kHz plus white noise of relative level ``noise``: the fewer and wider apart
    the harmonics and the less noise, the peakier, below and above any cutoff alike."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    x = sum(np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6.28)) / np.sqrt(k) for k in range(1, int(20000 / f0)))
    x = x / np.std(x) + noise * rng.standard_normal(t.size)
    return (0.1 * x / np.abs(x).max()).astype(np.float32)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("level-corpus")
    for i, (f0, noise) in enumerate([(110.0, 0.0), (220.0, 0.05), (330.0, 0.2), (440.0, 1.0), (150.0, 3.0)]):
        write_audio(root / f"clips/{i:02d}.flac", harmonic(2.0, f0, noise, i)[None], SR)
    write_audio(root / "clips/noise.flac", harmonic(2.0, 1000.0, 50.0, 9)[None], SR)
    return root


def test_white_noise_wants_no_gain_and_is_the_reference() -> None:
    noise = np.random.default_rng(0).standard_normal(4 * SR)
    cutoffs = (6000.0, 10000.0)
    points = clip_points(noise, cutoffs, [noise_peakiness_db(c) for c in cutoffs])
    for below, wanted in points:
        assert below == pytest.approx(-2.3, abs=0.15) and wanted == pytest.approx(0.0, abs=0.15)


def test_the_fit_is_a_least_squares_line() -> None:
    fit = fit_band_level([(-2.0, 0.0), (-6.0, -3.0), (-10.0, -6.0)], floor_db=-7.0)
    assert (fit.slope, fit.intercept_db, fit.floor_db) == (0.75, 1.5, -7.0)
    with pytest.raises(ValueError, match="at least 2"):
        fit_band_level([(-2.0, 0.0)])


def test_on_a_corpus_peakier_below_means_quieter_above(corpus) -> None:
    report = measure_corpus(corpus)
    assert report["files"] == 6 and report["points"] == 6 * 6
    assert report["correlation"] > 0.9
    fit = report["band_level"]
    assert 0.3 < fit["slope"] < 1.5
    assert fit["slope"] * -2.35 + fit["intercept_db"] == pytest.approx(0.0, abs=1.0)  # noise keeps its level


def test_the_command_writes_the_report_that_export_reads(corpus, tmp_path) -> None:
    from sagasr_export.cli import read_band_level

    out = tmp_path / "level.json"
    (tmp_path / "list.txt").write_text("clips/00.flac\nclips/03.flac\n")
    assert main(["band-level", str(corpus), "--file-list", str(tmp_path / "list.txt"), "--floor-db", "-6",
                 "-o", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["files"] == 2 and report["band_level"]["floor_db"] == -6.0
    assert read_band_level(str(out)) == report["band_level"]
    (tmp_path / "bad.json").write_text(json.dumps({"band_level": {"slope": 1.0}}))
    with pytest.raises(BundleError, match="exactly slope, intercept_db, floor_db"):
        read_band_level(str(tmp_path / "bad.json"))


def test_a_corpus_at_another_rate_is_refused(tmp_path) -> None:
    write_audio(tmp_path / "a.flac", np.zeros((1, 48000), np.float32), 48000)
    assert main(["band-level", str(tmp_path), "-o", str(tmp_path / "x.json")]) == 2
    with pytest.raises(ValueError, match="48000 Hz"):
        measure_corpus(tmp_path)


def test_damaged_files_are_named_before_the_fit(tmp_path) -> None:
    """As for a training data set (audio_files.checked_clips): one error names each damaged file, not the decoder's
    message at the first one."""
    write_audio(tmp_path / "good.flac", harmonic(1.0, 220.0, 0.1, 0)[None], SR)
    (tmp_path / "bad.wav").write_bytes(b"RIFF not really a wave file")
    (tmp_path / "worse.flac").write_bytes(b"")
    with pytest.raises(ValueError, match=r"2 of 3 audio files") as info:
        measure_corpus(tmp_path)
    assert "bad.wav" in str(info.value) and "worse.flac" in str(info.value)
