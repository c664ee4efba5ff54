"""Every RestoreSettings field checks its value's type the same way: a number is an int or float (numpy integer
and floating scalars count as the Python number; a bool or a string does not), a word is a string, and every
refusal is a SettingsError naming the field and the value."""
import re

import numpy as np
import pytest

from sagasr_stream import RestoreSettings
from sagasr_stream.errors import ParameterTypeError, SettingsError
from sagasr_stream.settings import resolve
from tests.conftest import with_defaults


@pytest.mark.parametrize("field, value", [
    # a bool is not a number (band_* fields already refused it; these took True as 1)
    ("steps", True), ("batch_size", True), ("seed", True), ("overlap", True), ("cfg_acoustic", True),
    ("cfg_text", False), ("target_rolloff_hz", True), ("band_gain", True), ("band_smoothing_iterations", True),
    ("steps", np.bool_(True)), ("cfg_acoustic", np.bool_(True)),
    # a string is not a number, whatever it spells (band_gain='3' was already refused; these were parsed)
    ("cfg_acoustic", "1.4"), ("cfg_text", "x"), ("target_rolloff_hz", "16000"), ("steps", "8"), ("seed", "0"),
    ("band_ceiling", "10"), ("sbr_blend", "0.5"),
    # other objects
    ("cfg_acoustic", [1]), ("cfg_text", 1j), ("target_rolloff_hz", [16000]),
    ("steps", 2.5), ("overlap", 2048.0), ("batch_size", 2.0),
    # out of range (as before)
    ("cfg_acoustic", float("nan")), ("target_rolloff_hz", float("nan")), ("band_gain", np.float32(25)),
    ("steps", np.int64(0)), ("seed", np.int64(-1)),
])
def test_a_value_of_the_wrong_type_is_a_settings_error_naming_the_field(tiny_model, field, value):
    with pytest.raises(SettingsError, match=field) as info:
        resolve(RestoreSettings(**{field: value}), tiny_model.manifest)
    shown = value.item() if isinstance(value, (np.integer, np.floating)) else value
    assert f"got {shown!r}" in str(info.value)


@pytest.mark.parametrize("value", [16, 20.0, 999.9, 0, -5])
def test_a_target_rolloff_in_khz_is_refused_not_a_silent_pass_through(tiny_model, value):
    """16 for 16 kHz was taken as 16 Hz: every window's band edge reaches it, so the file came out unrestored,
    with no word said."""
    with pytest.raises(SettingsError, match=r"target_rolloff_hz is in Hz and at least 1000 \(16 kHz is 16000\)"):
        resolve(RestoreSettings(target_rolloff_hz=value), tiny_model.manifest)
    assert resolve(RestoreSettings(target_rolloff_hz=1000), tiny_model.manifest).target_rolloff_hz == 1000


@pytest.mark.parametrize("value", [5, ["a"], b"bytes", 1.5])
def test_a_caption_must_be_a_string(tiny_model, value):
    with pytest.raises(SettingsError, match=r"caption must be a string .*got " + re.escape(repr(value))):
        resolve(RestoreSettings(caption=value), tiny_model.manifest)


# None: the tiny bundle's caption, "music"
@pytest.mark.parametrize("caption, resolved", [("piano", "piano"), ("", ""), (None, "music")])
def test_string_captions_and_none_stay_valid(tiny_model, caption, resolved):
    assert resolve(RestoreSettings(caption=caption), tiny_model.manifest).caption == resolved


@pytest.mark.parametrize("settings, field, expected", [
    (RestoreSettings(steps=np.int64(3)), "steps", 3),
    (RestoreSettings(seed=np.int64(7)), "seed", 7),
    (RestoreSettings(seed=np.uint32(7)), "seed", 7),
    (RestoreSettings(overlap=np.int64(2048)), "overlap", 2048),
    (RestoreSettings(batch_size=np.int32(2)), "batch_size", 2),
    (RestoreSettings(cfg_acoustic=np.float32(1.5)), "cfg_acoustic", 1.5),
    (RestoreSettings(cfg_text=np.int64(2)), "cfg_text", 2.0),
    (RestoreSettings(target_rolloff_hz=np.float32(16000)), "target_rolloff_hz", 16000.0),
    (RestoreSettings(band_gain=np.float32(3)), "band_gain_db", 3.0),
    (RestoreSettings(band_tilt=np.float64(-1.5)), "band_tilt_db", -1.5),
    (RestoreSettings(band_ceiling=np.float32(6)), "band_ceiling_db", 6.0),
    (RestoreSettings(sbr_blend=np.float32(0.5)), "sbr_blend", 0.5),
    (RestoreSettings(band_transients=np.float32(0.25)), "band_transients", 0.25),
    (RestoreSettings(band_smoothing=np.float32(0.5), band_smoothing_iterations=np.int64(4)),
     "band_smoothing_iterations", 4),
])
def test_numpy_scalars_are_taken_as_the_python_number(tiny_model, settings, field, expected):
    value = getattr(resolve(settings, tiny_model.manifest), field)
    assert value == expected and type(value) is type(expected)  # a Python number, not a numpy scalar


@pytest.mark.parametrize("changes", [
    dict(steps=8), dict(cfg_acoustic=0), dict(cfg_acoustic=1.4), dict(cfg_text=20), dict(target_rolloff_hz=16000),
    dict(target_rolloff_hz=22050.0), dict(target_rolloff_hz="auto"), dict(overlap=0), dict(overlap=4096),
    dict(batch_size=1), dict(seed=0), dict(seed=2**40), dict(band_gain=-24), dict(band_tilt=1.5),
    dict(band_ceiling="off"), dict(band_ceiling=0), dict(sbr_blend=1), dict(sbr_blend=0.25, sbr_level="off"),
    dict(band_smoothing="off"), dict(band_smoothing=2, band_smoothing_iterations=0), dict(band_transients="off"),
    dict(low_band="replace"), dict(band_level="power"), dict(stereo="mid-side"), dict(cfg_form="independent"),
])
def test_values_of_the_right_type_stay_valid(tiny_model, changes):
    resolve(RestoreSettings(**changes), tiny_model.manifest)


def test_target_rolloff_model_stays_valid_for_a_bundle_trained_for_it(tiny_model):
    trained = with_defaults(tiny_model, rolloff_unknown_trained=True)
    assert resolve(RestoreSettings(target_rolloff_hz="model"), trained.manifest).target_rolloff_hz == "model"


def test_a_bundle_default_given_as_text_still_resolves(tiny_model):
    """Only what the user passes is held to the strict types: a bundle whose manifest spells its default roll-off
    as a string keeps working."""
    bundle = with_defaults(tiny_model, target_rolloff_hz="16000")
    assert resolve(RestoreSettings(), bundle.manifest).target_rolloff_hz == 16000.0


@pytest.mark.parametrize("settings", [{"steps": 2}, "fast", 3])
def test_settings_of_another_type_are_refused_naming_the_type(tiny_model, settings):
    with pytest.raises(ParameterTypeError, match=f"settings must be a RestoreSettings, got {type(settings).__name__}"):
        resolve(settings, tiny_model.manifest)  # type: ignore[arg-type]
