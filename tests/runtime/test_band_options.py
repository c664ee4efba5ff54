"""The options that reshape the restored band (band level, ceiling, SBR blend and level pull, smoothing, transients,
trim): how a bundle's defaults for them are checked and how the command line takes them. What each one does is in
its own module's tests (test_band_level.py, test_band_ceiling.py, test_replication.py, ...)."""
from __future__ import annotations

import dataclasses

import pytest

import sagasr_stream as ss
from sagasr_stream.bundle import Manifest
from sagasr_stream.cli.main import build_parser
from sagasr_stream.errors import BundleError
from sagasr_stream.settings import RestoreSettings, resolve

from ..conftest import with_defaults

LEVEL = "must be a level in dB >= 0"
SHARE = "must be a share in \\[0, 1\\]"


@pytest.mark.parametrize("setting", ["sbr_blend", "band_transients"])
def test_a_bundle_s_share_applies_by_default_with_keep_only(tiny_model: ss.SagaSRModel, setting: str) -> None:
    """A share of the bundle's is the default with ``low_band`` "keep"; the user's share, "off" and 0 override it."""
    def resolved(manifest: Manifest, **settings: object) -> object:
        return getattr(resolve(RestoreSettings(**settings), manifest), setting)

    assert resolved(tiny_model.manifest) is None
    manifest = with_defaults(tiny_model, **{setting: 0.3}).manifest
    assert resolved(manifest) == 0.3
    assert resolved(manifest, **{setting: 0.5}) == 0.5
    assert resolved(manifest, **{setting: "off"}) is None
    assert resolved(manifest, **{setting: 0}) is None
    assert resolved(manifest, low_band="replace") is None


@pytest.mark.parametrize("name, bad, message", [
    ("band_level", {"slope": 1.0}, "defaults.band_level"),
    ("band_ceiling_db", -3.0, f"defaults.band_ceiling_db {LEVEL}"),
    ("band_ceiling_db", "10", f"defaults.band_ceiling_db {LEVEL}"),
    ("band_ceiling_db", float("nan"), f"defaults.band_ceiling_db {LEVEL}"),
    ("sbr_blend", 1.2, f"defaults.sbr_blend {SHARE}"),
    ("sbr_blend", "0.25", f"defaults.sbr_blend {SHARE}"),
    ("sbr_blend", float("inf"), f"defaults.sbr_blend {SHARE}"),
    ("sbr_level_db", -3.0, f"defaults.sbr_level_db {LEVEL}"),
    ("sbr_level_db", "9", f"defaults.sbr_level_db {LEVEL}"),
    ("band_smoothing_octaves", 3.0, "defaults.band_smoothing_octaves must be a width in octaves in \\(0, 2\\]"),
    ("band_smoothing_iterations", 1.5, "defaults.band_smoothing_iterations must be an integer in \\[0, 100\\]"),
    ("band_transients", -0.1, f"defaults.band_transients {SHARE}, got -0.1"),
])
def test_a_manifest_with_a_bad_default_does_not_load(tiny_model: ss.SagaSRModel, name: str, bad: object,
                                                      message: str) -> None:
    data = dataclasses.asdict(tiny_model.manifest)
    data["defaults"][name] = bad
    with pytest.raises(BundleError, match=message):
        Manifest.from_dict(data)


@pytest.mark.parametrize("flags, expected", [
    (["--band-ceiling", "6"], {"band_ceiling": 6.0}),
    (["--band-ceiling", "off"], {"band_ceiling": "off"}),
    (["--sbr-blend", "0.3"], {"sbr_blend": 0.3}),
    (["--sbr-blend", "off"], {"sbr_blend": "off"}),
    (["--sbr-level", "9"], {"sbr_level": 9.0}),
    (["--sbr-level", "off"], {"sbr_level": "off"}),
    (["--band-smoothing", "0.1667", "--band-smoothing-iterations", "3"],
     {"band_smoothing": 0.1667, "band_smoothing_iterations": 3}),
    (["--band-smoothing", "off"], {"band_smoothing": "off"}),
    (["--band-transients", "0.3"], {"band_transients": 0.3}),
    (["--band-transients", "off"], {"band_transients": "off"}),
    (["--band-gain", "-4.5", "--band-tilt", "-2"], {"band_gain": -4.5, "band_tilt": -2.0}),
])
def test_the_command_line_takes_a_number_or_off(flags: list[str], expected: dict[str, object]) -> None:
    args = build_parser().parse_args(["restore", "in.wav", *flags])
    assert {name: getattr(args, name) for name in expected} == expected


@pytest.mark.parametrize("flags", [["--sbr-blend", "half"], ["--band-smoothing", "wide"],
                                   ["--band-transients", "sharp"], ["--band-ceiling", "loud"]])
def test_the_command_line_refuses_a_word_other_than_off(flags: list[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["restore", "in.wav", *flags])
