"""The "auto" target roll-off: relative to each window's input roll-off (bundle's auto_rolloff_fraction)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sagasr_stream import RestoreSettings, restore
from sagasr_stream.cli import main
from sagasr_stream.errors import SettingsError
from sagasr_stream.settings import resolve


def test_auto_target_follows_the_input_rolloff(tiny_model) -> None:
    s = resolve(RestoreSettings(target_rolloff_hz="auto"), tiny_model.manifest)
    assert s.target_rolloff is None and s.target_rolloff_hz == "auto"
    got = s.target_rolloffs(np.array([0.2, 0.5, 1.0]))
    f = s.auto_rolloff_fraction
    assert np.allclose(got, [0.2 + f * 0.8, 0.5 + f * 0.5, 1.0])
    fixed = resolve(RestoreSettings(target_rolloff_hz=11025.0), tiny_model.manifest)
    assert np.allclose(fixed.target_rolloffs(np.array([0.1, 0.9])), 0.5)


def test_auto_target_changes_the_output_and_is_deterministic(tiny_model) -> None:
    x = (np.random.default_rng(0).standard_normal(30000) * 0.1).astype(np.float32)
    auto = restore(x, 44100, tiny_model, RestoreSettings(target_rolloff_hz="auto", steps=2, low_band="off"))
    again = restore(x, 44100, tiny_model, RestoreSettings(target_rolloff_hz="auto", steps=2, low_band="off"))
    fixed = restore(x, 44100, tiny_model, RestoreSettings(target_rolloff_hz=20000.0, steps=2, low_band="off"))
    assert np.array_equal(auto, again) and not np.array_equal(auto, fixed)


@pytest.mark.parametrize("bad", ["bright", -5.0, 30000.0])
def test_bad_target_rolloff_is_a_settings_error(tiny_model, bad) -> None:
    with pytest.raises(SettingsError, match="target_rolloff_hz"):
        resolve(RestoreSettings(target_rolloff_hz=bad), tiny_model.manifest)


def test_bad_auto_fraction_in_a_bundle_is_refused(tiny_model) -> None:
    manifest = dataclasses.replace(tiny_model.manifest, defaults=dataclasses.replace(tiny_model.manifest.defaults, auto_rolloff_fraction=1.5))
    with pytest.raises(SettingsError, match="auto_rolloff_fraction"):
        resolve(RestoreSettings(), manifest)


def test_cli_takes_auto_model_or_hz(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["restore", "x.wav", "-o", "y.wav", "--target-rolloff-hz", "bright"])
    assert "frequency in Hz or 'auto', 'model'" in capsys.readouterr().err


def test_model_chosen_rolloff_needs_a_bundle_trained_for_it(tiny_model) -> None:
    with pytest.raises(SettingsError, match="not trained to choose the roll-off"):
        resolve(RestoreSettings(target_rolloff_hz="model"), tiny_model.manifest)


def test_model_chosen_rolloff_feeds_the_unknown_value(tiny_model) -> None:
    from sagasr_stream.settings import AUTO_COMPLETE_BAND_HZ, ROLLOFF_UNKNOWN

    trained = dataclasses.replace(tiny_model.manifest.defaults, rolloff_unknown_trained=True)
    s = resolve(RestoreSettings(target_rolloff_hz="model"), dataclasses.replace(tiny_model.manifest, defaults=trained))
    assert s.target_rolloff is None and s.complete_band_hz == AUTO_COMPLETE_BAND_HZ
    assert np.array_equal(s.target_rolloffs(np.array([0.2, 0.7])), np.full(2, ROLLOFF_UNKNOWN, np.float32))


def test_auto_target_still_passes_full_band_windows_through(tiny_model) -> None:
    from .material import validation_clips

    clip = next(iter(validation_clips().values()))
    out = restore(clip, 44100, tiny_model, RestoreSettings(target_rolloff_hz="auto"))
    assert np.array_equal(out, clip)


@pytest.mark.parametrize("cutoff_hz, restored", [(16000.0, True), (19500.0, True), (20300.0, False)])
def test_auto_target_restores_a_band_cut_below_20_khz(tiny_model, cutoff_hz, restored) -> None:
    """A cut at 16 kHz (a lossy codec's low-pass) is restored above it; from 20 kHz up the band is complete."""
    from sagasr_stream import degradation, dsp
    from sagasr_stream.settings import AUTO_COMPLETE_BAND_HZ
    from .material import drums_like, kept_band_error_db

    x = degradation.band_limit(drums_like(2.0).astype(np.float64), 44100,
                               degradation.LowPassSpec("ellip", 10, cutoff_hz), resample=False).astype(np.float32)
    assert (dsp.band_edge_hz(x) < AUTO_COMPLETE_BAND_HZ) == restored
    out = restore(x, 44100, tiny_model, RestoreSettings(target_rolloff_hz="auto"))
    if restored:
        assert not np.array_equal(out, x)
        assert kept_band_error_db(out, x, 0.95 * cutoff_hz) <= 0.5
    else:
        assert np.array_equal(out, x)
