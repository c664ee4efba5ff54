"""The restore flags are derived from RestoreSettings' fields: one flag per field, parsing them gives the
settings back, the old ``--target-rolloff`` spelling still works (hidden, with a warning)."""
from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass

import pytest

from sagasr_stream.cli.fields import add_flags, dataclass_flags, flag_values, to_argv
from sagasr_stream.cli.main import build_parser
from sagasr_stream.cli.options import RESTORE_FLAGS, settings_from_args
from sagasr_stream.errors import ParameterTypeError
from sagasr_stream.options import option
from sagasr_stream.settings import RestoreSettings

SOME_SETTINGS = [
    RestoreSettings(),
    RestoreSettings(steps=3, cfg_acoustic=1.5, cfg_text=0.25, cfg_form="independent", target_rolloff_hz=15000.0,
                    caption="solo piano", overlap=1024, batch_size=2, seed=7, low_band="replace",
                    stereo="mid-side"),
    RestoreSettings(target_rolloff_hz="auto", caption="-dark, with a leading dash", low_band="off", seed=0, stereo="independent"),
    RestoreSettings(caption="", cfg_acoustic=0.0, steps=1),
]


@dataclass(frozen=True)
class Inner:
    cutoff_hz: float = option(1000.0, unit="Hz", help="a cutoff")
    families: tuple[str, ...] = option(("a", "b"), choices=("a", "b", "c"), help="families")
    keep: bool = option(True, help="a switch")


@dataclass(frozen=True)
class Outer:
    span: tuple[float, float] = option((-1.0, 2.0), help="two numbers")
    inner: Inner = option(default_factory=Inner, flag="--inner-", help="nested")
    hidden: int = option(3, command_line=False, help="config only")
    plain: int = 5  # no option(): not on the command line


@dataclass
class Odd:
    either: int | str = option(1, help="no parse= given")


def parsed(argv: list[str]) -> RestoreSettings:
    return settings_from_args(build_parser().parse_args(argv))


def test_every_settings_field_has_exactly_one_flag():
    assert [fl.dest for fl in RESTORE_FLAGS] == [f.name for f in dataclasses.fields(RestoreSettings)]
    assert len({fl.flag for fl in RESTORE_FLAGS}) == len(RESTORE_FLAGS)


@pytest.mark.parametrize("verb", ["restore", "upsample", "bench", "batch", "eval"])
def test_every_verb_that_runs_the_model_has_every_settings_flag(verb, capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args([verb, "--help"])
    text = capsys.readouterr().out
    for fl in RESTORE_FLAGS:
        assert fl.flag in text, (verb, fl.flag)
    assert "--target-rolloff " not in text and "--target-rolloff," not in text  # the old spelling is hidden


@pytest.mark.parametrize("settings", SOME_SETTINGS, ids=range(len(SOME_SETTINGS)))
@pytest.mark.parametrize("verb", ["restore", "upsample", "bench", "batch"])
def test_flags_round_trip_to_the_same_settings(settings, verb):
    argv = to_argv(settings, RESTORE_FLAGS)
    extra = {"bench": [], "batch": ["x.wav", "-o", "out"]}.get(verb, ["x.wav"])
    assert parsed([verb, *extra, *argv]) == settings


def test_no_flags_give_the_defaults_and_the_bundle_decides_the_rest():
    assert to_argv(RestoreSettings(), RESTORE_FLAGS) == ["--cfg-form=official", "--batch-size=4", "--seed=0",
                                                         "--low-band=keep", "--band-gain=0.0", "--band-tilt=0.0",
                                                         "--stereo=linked"]
    assert parsed(["restore", "x.wav"]) == RestoreSettings()


def test_the_old_target_rolloff_spelling_still_works_with_a_warning(capsys):
    old = parsed(["restore", "x.wav", "--target-rolloff", "15000"])
    assert "--target-rolloff is deprecated; use --target-rolloff-hz" in capsys.readouterr().err
    assert old == parsed(["restore", "x.wav", "--target-rolloff-hz", "15000"]) == RestoreSettings(target_rolloff_hz=15000.0)
    assert parsed(["restore", "x.wav", "--target-rolloff", "auto"]).target_rolloff_hz == "auto"


@pytest.mark.parametrize("argv, message", [
    (["--target-rolloff-hz", "bright"], "frequency in Hz or 'auto', 'model'"),
    (["--low-band", "maybe"], "invalid choice: 'maybe'"),
    (["--steps", "two"], "invalid int value: 'two'"),
    (["--cfg-text", "high"], "invalid float value: 'high'"),
])
def test_bad_flag_values_name_the_flag_and_the_problem(argv, message, capsys):
    with pytest.raises(SystemExit):
        parsed(["restore", "x.wav", *argv])
    err = capsys.readouterr().err
    assert message in err and argv[0] in err


def test_nested_tuple_and_switch_fields_round_trip():
    flags = dataclass_flags(Outer)
    assert [(fl.dest, fl.flag) for fl in flags] == [
        ("span", "--span"), ("inner.cutoff_hz", "--inner-cutoff-hz"), ("inner.families", "--inner-families"),
        ("inner.keep", "--inner-keep")]
    parser = argparse.ArgumentParser()
    add_flags(parser, flags)
    value = Outer(span=(-3.5, 4.0), inner=Inner(cutoff_hz=250.0, families=("c",), keep=False))
    argv = to_argv(value, flags)
    assert flag_values(parser.parse_args(argv), flags) == {
        "span": (-3.5, 4.0), "inner.cutoff_hz": 250.0, "inner.families": ("c",), "inner.keep": False}
    assert flag_values(parser.parse_args([]), flags) == {}
    with pytest.raises(SystemExit):
        parser.parse_args(["--inner-families", "z"])


def test_a_field_whose_type_has_no_parser_is_refused_when_the_flags_are_made():
    with pytest.raises(ParameterTypeError, match="either: no command-line parser"):
        dataclass_flags(Odd)


@pytest.mark.parametrize("module", ["sagasr_stream", "sagasr_stream.cli"])
def test_python_dash_m_runs_the_command_line(module):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-m", module, "--version"], cwd=root, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0 and result.stdout.startswith("sagasr "), result.stderr[-2000:]
