"""Tests of the evaluation metrics, the SBR baseline and the report writer."""
from __future__ import annotations

import json

import numpy as np
import pytest

from sagasr_stream.degradation import LowPassSpec, band_limit
from sagasr_stream.evaluation import evaluate, lsd, lsd_hf, sbr_extend

SR = 44100


def harmonic(seconds: float = 1.0, f0: float = 220.0, seed: int = 0) -> np.ndarray:
    """A natural-sounding test tone: harmonics of f0 (with 0.5 % vibrato) up to Nyquist at -6 dB/octave
    (amplitude 1/k), random phases, plus breath noise with the same -6 dB/octave slope, about 20 dB down."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    phase = 2 * np.pi * f0 * (t + 0.005 / (2 * np.pi * 5.0) * np.sin(2 * np.pi * 5.0 * t))
    x = np.zeros_like(t)
    for k in range(1, int(SR / 2 / (1.01 * f0))):
        x += np.sin(k * phase + rng.uniform(0, 2 * np.pi)) / k
    white = np.fft.rfft(rng.standard_normal(t.size))
    f = np.fft.rfftfreq(t.size, 1 / SR)
    noise = np.fft.irfft(white / np.maximum(f, 50.0) * 50.0, n=t.size)
    x += 0.1 * np.abs(x).max() * noise / np.abs(noise).max()
    return (0.3 * x / np.abs(x).max()).astype(np.float32)


def test_lsd_of_identical_signals_is_zero():
    x = harmonic(0.5)
    assert lsd(x, x) == 0.0
    assert lsd_hf(x, x, SR, 8000) == 0.0


def test_lsd_grows_when_top_band_removed():
    x = harmonic(0.5)
    mild = band_limit(x, SR, LowPassSpec("butter", 8, 12000))
    strong = band_limit(x, SR, LowPassSpec("butter", 8, 4000))
    assert 0 < lsd(mild, x) < lsd(strong, x)


def test_lsd_hf_ignores_bins_below_cutoff():
    x = harmonic(0.5)
    rng = np.random.default_rng(1)
    # change only the band below 3 kHz: LSD-HF above 6 kHz is (nearly) unchanged, full-band LSD is not
    low_noise = band_limit(rng.standard_normal(x.size).astype(np.float32) * 0.05, SR, LowPassSpec("butter", 10, 3000), resample=False)
    y = x + low_noise
    assert lsd(y, x) > 0.05
    assert lsd_hf(y, x, SR, 6000) < lsd(y, x) / 10


def test_lsd_rejects_bad_input():
    x = harmonic(0.2)
    with pytest.raises(ValueError, match="shape"):
        lsd(x, x[:-1])
    bad = x.copy()
    bad[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        lsd(bad, x)


@pytest.mark.parametrize("cutoff", [4000.0, 8000.0])
def test_sbr_lowers_lsd_hf_of_band_limited_input(cutoff):
    x = harmonic(1.0)
    y = band_limit(x, SR, LowPassSpec("cheby1", 8, cutoff))
    out = sbr_extend(y, SR, cutoff)
    assert out.shape == y.shape and out.dtype == np.float32
    before, after = lsd_hf(y, x, SR, cutoff), lsd_hf(out, x, SR, cutoff)
    assert after < 0.5 * before, (before, after)
    # the band below the cutoff is kept
    assert lsd_hf(out, y, SR, 1.0) > 0  # something was added
    added = np.abs(np.fft.rfft(out - y)) ** 2
    kept = np.abs(np.fft.rfft(y)) ** 2
    below = np.fft.rfftfreq(y.size, 1 / SR) < 0.8 * cutoff
    assert added[below].sum() < 1e-4 * kept[below].sum()


def test_sbr_rejects_bad_cutoff():
    with pytest.raises(ValueError, match="cutoff"):
        sbr_extend(harmonic(0.1), SR, 30000)


def test_evaluate_writes_report(tmp_path):
    clips = {"a": harmonic(0.6, 220.0, 0), "b": harmonic(0.6, 330.0, 1)}
    calls = []

    def identity(audio, sample_rate, cutoff_hz):
        calls.append((audio.shape, sample_rate, cutoff_hz))
        return audio

    report = evaluate(identity, clips, cutoffs_hz=(4000, 8000), seed=3, out_dir=tmp_path, n_png=2,
                      vae_only_fn=lambda audio, sr, cutoff: sbr_extend(audio, sr, cutoff), context={"split": {
                          "name": "all", "rule": "by name", "clips": ["a", "b"]}})
    assert len(calls) == 2 * 2 * 2 and calls[0][1] == SR
    md = (tmp_path / "report.md").read_text()
    assert "| degradation | cutoff (Hz) | clips | input | SBR | noise fill | VAE-only | model |" in md
    for title in ("LSD (full band", "LSD-HF (above the cutoff", "Envelope correlation", "against the baselines"):
        assert title in md
    assert "Split: **all** (2 clips: a, b)" in md
    for kind in ("filters", "resample"):
        for cutoff in ("4000", "8000"):
            assert f"| {kind} | {cutoff} | 2 |" in md
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["systems"] == ["input", "sbr", "noise", "vae_only", "model"]
    assert data["split"]["name"] == "all"
    assert len(data["clips"]) == 8 and len(data["summary"]) == 4
    for entry in data["summary"]:
        # identity "model" equals the input; both baselines beat it above the cutoff
        assert entry["lsd_model"] == pytest.approx(entry["lsd_input"])
        assert entry["lsd_hf_sbr"] < entry["lsd_hf_input"] and entry["lsd_hf_noise"] < entry["lsd_hf_input"]
        assert entry["win_rate_lsd_hf"] == 0.0 and entry["margin_lsd_hf_pct"] < 0
        best = min(entry["lsd_hf_sbr"], entry["lsd_hf_noise"])
        assert entry["margin_lsd_hf_pct"] == pytest.approx(100 * (best - entry["lsd_hf_model"]) / best)
        # the stand-in "VAE-only" is SBR here: the model's LSD-HF lies above it
        assert entry["dit_gain_lsd_hf_pct"] == pytest.approx(100 * (entry["lsd_hf_sbr"] - entry["lsd_hf_model"]) / entry["lsd_hf_sbr"])
        assert -1 <= entry["env_model"] <= 1 and "env_model_minus_sbr" in entry
    assert report["summary"] == data["summary"]
    pytest.importorskip("matplotlib")
    pngs = sorted(tmp_path.glob("*.png"))
    assert len(pngs) == 2 and all(p.stat().st_size > 1000 for p in pngs)
    assert data["spectrograms"] == [p.name for p in pngs] or sorted(data["spectrograms"]) == [p.name for p in pngs]


def test_verdict_counts_wins_per_clip_against_the_better_baseline():
    from sagasr_stream.evaluation.report import verdict

    rows = [  # clip 1: model beats both; clip 2: beats SBR only; clip 3: beats neither
        {"lsd_sbr": 1.0, "lsd_noise": 0.9, "lsd_model": 0.8, "lsd_hf_sbr": 2.0, "lsd_hf_noise": 1.0, "lsd_hf_model": 0.5,
         "env_sbr": 0.5, "env_model": 0.7},
        {"lsd_sbr": 1.0, "lsd_noise": 0.7, "lsd_model": 0.8, "lsd_hf_sbr": 2.0, "lsd_hf_noise": 1.0, "lsd_hf_model": 0.5,
         "env_sbr": 0.5, "env_model": 0.5},
        {"lsd_sbr": 1.0, "lsd_noise": 0.8, "lsd_model": 1.1, "lsd_hf_sbr": 2.0, "lsd_hf_noise": 1.0, "lsd_hf_model": 1.4,
         "env_sbr": 0.5, "env_model": 0.0},
    ]
    v = verdict(rows)
    assert v["win_rate_lsd"] == pytest.approx(1 / 3) and v["win_rate_lsd_hf"] == pytest.approx(2 / 3)
    assert v["best_baseline_lsd"] == "noise" and v["best_baseline_lsd_hf"] == "noise"
    assert v["margin_lsd_pct"] == pytest.approx(100 * (0.8 - 0.9) / 0.8)
    assert v["margin_lsd_hf_pct"] == pytest.approx(100 * (1.0 - 0.8) / 1.0)
    assert v["env_model_minus_sbr"] == pytest.approx((0.2 + 0.0 - 0.5) / 3)
    assert "dit_gain_lsd_hf_pct" not in v


def test_evaluate_rejects_bad_model_output(tmp_path):
    with pytest.raises(ValueError, match="restore_fn returned shape"):
        evaluate(lambda a, sr, c: a[:-1], [harmonic(0.3)], cutoffs_hz=(4000,), out_dir=tmp_path, n_png=0)
    with pytest.raises(ValueError, match="unknown degradation"):
        evaluate(lambda a, sr, c: a, [harmonic(0.3)], degradations=("mp3",), out_dir=tmp_path)


def test_seam_report_measures_seams_against_the_reference_at_the_same_places():
    """An oracle that returns the reference has no seams of its own: its metric is the reference's, difference 0;
    a restore that dips at every seam shows the dip."""
    from sagasr_stream.chunking import WindowPlan
    from sagasr_stream.evaluation.seams import seam_report

    rng = np.random.default_rng(0)
    window, overlap = 8192, 2048
    clip = (rng.standard_normal(5 * window) * np.linspace(0.2, 1.0, 5 * window)).astype(np.float32)  # loudness moves
    oracle = seam_report(lambda lr, sr, cutoff: clip, {"a": clip}, window, overlap)
    assert oracle["seam_clips"] == 1 and oracle["seam_db_vs_reference"] == 0.0
    assert abs(oracle["reference_seam_db_mean"]) > 0.0
    seams = WindowPlan(window, overlap).seam_centres(clip.size)
    dip = np.ones(clip.size, np.float32)
    for c in seams:
        dip[max(0, c - overlap // 2) : c + overlap // 2] = 0.5
    dipped = seam_report(lambda lr, sr, cutoff: clip * dip, {"a": clip}, window, overlap)
    assert dipped["seam_db_vs_reference"] < -3.0
    assert seam_report(lambda lr, sr, cutoff: lr, {"short": clip[:window]}, window, overlap)["seam_db_vs_reference"] is None


@pytest.mark.parametrize("dtype", [np.int16, np.bool_, np.complex64])
def test_the_metrics_refuse_samples_that_are_no_floats(dtype):
    """int16 PCM was scored on its integer scale, complex on its real part (with only a numpy warning)."""
    from sagasr_stream.errors import AudioTypeError
    from sagasr_stream.evaluation.metrics import envelope_correlation, lsd, lsd_hf

    x = np.random.default_rng(0).uniform(-0.5, 0.5, 8192).astype(np.float32)
    bad = (x * 100).astype(dtype)
    for metric in (lambda a, b: lsd(a, b), lambda a, b: lsd_hf(a, b, 44100, 8000.0),
                   lambda a, b: envelope_correlation(a, b, 44100, 8000.0)):
        with pytest.raises(AudioTypeError, match=f"dtype {np.dtype(dtype)}"):
            metric(bad, x)


def test_pictures_asked_for_without_matplotlib_are_named_as_missing(tmp_path, monkeypatch):
    """``sagasr eval`` draws 3 pictures by default; without matplotlib (the eval extra) the report held none and
    said nothing."""
    import sys

    from sagasr_stream.evaluation.report import write_report

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    write_report([], [("clip", {"reference": np.zeros(4096, np.float32)})], tmp_path, 44100, 0)
    assert not list(tmp_path.glob("*.png"))
    assert "matplotlib is not installed" in (tmp_path / "report.md").read_text(encoding="utf-8")


def test_a_rerun_into_the_same_folder_leaves_no_pictures_of_the_previous_report(tmp_path):
    """A second run into the folder of a first kept the first run's spectrogram PNGs beside a report that named
    other clips (measured: `sagasr eval` of clip 000022_05 with --pngs 1, then of 000047_00 with --pngs 0: the
    000022_05 picture stayed). A file the previous report did not write is left alone."""
    own = tmp_path / "notes.png"
    own.write_bytes(b"mine")
    identity = lambda audio, sample_rate, cutoff_hz: audio  # noqa: E731
    evaluate(identity, {"a": harmonic(0.4)}, cutoffs_hz=(8000,), degradations=("resample",), out_dir=tmp_path, n_png=1)
    assert (tmp_path / "spectrogram_a_resample_8000Hz.png").is_file()
    report = evaluate(identity, {"b": harmonic(0.4, 330.0)}, cutoffs_hz=(8000,), degradations=("resample",),
                      out_dir=tmp_path, n_png=0)
    assert report["spectrograms"] == [] and sorted(p.name for p in tmp_path.glob("*.png")) == ["notes.png"]


@pytest.mark.parametrize("cutoffs, degradations, message", [
    ((8000, 8000.0), ("filters",), "cutoff 8000 Hz is given twice"),
    ((8000,), ("filters", "filters"), "degradation 'filters' is given twice"),
])
def test_a_cutoff_or_degradation_given_twice_is_refused(tmp_path, cutoffs, degradations, message):
    """`sagasr eval ... --cutoffs 8000 8000` scored every clip twice under one table row whose "clips" column then
    said 2 for 1 clip (4 with --degradations filters filters too), its win rates counted over the copies."""
    from sagasr_stream.errors import ParameterError

    with pytest.raises(ParameterError, match=message):
        evaluate(lambda a, sr, c: a, {"a": harmonic(0.4)}, cutoffs_hz=cutoffs, degradations=degradations,
                 out_dir=tmp_path / "r", n_png=0)
    assert not (tmp_path / "r").exists()


def test_a_spectrogram_write_that_fails_leaves_the_earlier_picture_and_no_partial_file(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    from sagasr_stream.evaluation.report import write_spectrograms

    earlier = tmp_path / "spectrogram_a.png"
    earlier.write_bytes(b"the earlier run's picture")

    def broken_savefig(self, fname, **kwargs):
        with open(fname, "wb") as f:
            f.write(b"half a pic")
        raise KeyboardInterrupt  # Ctrl-C in the middle of the write

    monkeypatch.setattr(Figure, "savefig", broken_savefig)
    with pytest.raises(KeyboardInterrupt):
        write_spectrograms([("a", {"reference": np.ones(4410, np.float32)})], tmp_path, 44100)
    assert earlier.read_bytes() == b"the earlier run's picture" and [p.name for p in tmp_path.iterdir()] == [earlier.name]
