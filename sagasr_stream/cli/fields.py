"""Command-line flags derived from dataclass fields declared with :func:`sagasr_stream.options.option`.

:func:`dataclass_flags` lists a dataclass's flags (nested dataclass fields included, their destinations dotted:
``data.degrade.cutoff_min_hz``); :func:`add_flags` puts them on an argparse parser; :func:`flag_values` reads
the parsed values back (``None``: not given); :func:`to_argv` writes a settings object as flags (the inverse).
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import types
import typing
from dataclasses import dataclass
from typing import Any, Callable, Literal, Sequence

from ..errors import ParameterTypeError
from ..options import OptionInfo, option_info


@dataclass(frozen=True)
class Flag:
    """One field on the command line: ``dest`` is its dotted path in the dataclass (and the argparse dest)."""

    dest: str
    flag: str
    info: OptionInfo
    parse: Callable[[str], Any] | None   # None for a boolean switch
    nargs: int | str | None = None       # a tuple field: its length, or "+"
    choices: tuple[Any, ...] | None = None
    default: Any = None                  # the field's default (shown in --help; None: "the bundle's" or unset)

    @property
    def help(self) -> str:
        if self.default is None or self.default == "":
            return self.info.help
        shown = " ".join(map(str, self.default)) if isinstance(self.default, tuple) else self.default
        return f"{self.info.help} (default {shown})"

    @property
    def is_switch(self) -> bool:
        return self.parse is None


def _without_none(tp: Any) -> Any:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0] if len(args) == 1 else typing.Union[tuple(args)]
    return tp


def _flag_of(dest: str, flag: str, info: OptionInfo, tp: Any, default: Any) -> Flag:
    """The :class:`Flag` of a field of type ``tp`` (its parser, length and choices from the annotation)."""
    tp = _without_none(tp)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    choices = info.choices
    nargs: int | str | None = None
    if origin is tuple:
        nargs = "+" if len(args) == 2 and args[1] is Ellipsis else len(args)
        tp = args[0]
        origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Literal:
        choices = choices or args
        tp = type(args[0])
    if tp is bool and nargs is None:
        return Flag(dest, flag, info, None, default=default)
    parse = info.parse or (tp if tp in (int, float, str) else None)
    if parse is None:
        raise ParameterTypeError(f"{dest}: no command-line parser for {tp!r}; give the option a parse= function")
    return Flag(dest, flag, info, parse, nargs, tuple(choices) if choices else None, default)


def dataclass_flags(cls: type, dest_prefix: str = "", flag_prefix: str = "--") -> list[Flag]:
    """The flags of ``cls``'s fields that have an :func:`~sagasr_stream.options.option` with
    ``command_line=True``, in field order; a nested dataclass field contributes its own fields, with the
    option's ``flag`` as their flag prefix."""
    hints = typing.get_type_hints(cls)
    flags: list[Flag] = []
    for f in dataclasses.fields(cls):
        info = option_info(f)
        if info is None or not info.command_line:
            continue
        tp = hints[f.name]
        if isinstance(tp, type) and dataclasses.is_dataclass(tp):  # a nested settings class (hints are types)
            flags += dataclass_flags(tp, f"{dest_prefix}{f.name}.", info.flag or flag_prefix)
            continue
        flag = info.flag or flag_prefix + f.name.replace("_", "-")
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        flags.append(_flag_of(dest_prefix + f.name, flag, info, tp, None if default is dataclasses.MISSING else default))
    return flags


def _argparse_type(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """``parse`` with its ValueError shown as argparse's message (int and float keep argparse's own)."""
    if parse in (int, float, str):
        return parse

    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = getattr(parse, "__name__", "value")
    return convert


class _DeprecatedFlag(argparse.Action):
    """An old spelling of a flag: stores like the new one and says which to use instead."""

    def __init__(self, option_strings: Sequence[str], dest: str, replacement: str = "", **kwargs: Any) -> None:
        super().__init__(option_strings, dest, **kwargs)
        self.replacement = replacement

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        print(f"warning: {option_string} is deprecated; use {self.replacement}", file=sys.stderr)
        setattr(namespace, self.dest, values)


def add_flags(parser: argparse.ArgumentParser | argparse._ArgumentGroup, flags: Sequence[Flag]) -> None:
    """Add ``flags`` to ``parser``; every default is None ("not given"), so the dataclass's default stays."""
    for fl in flags:
        if fl.is_switch:
            parser.add_argument(fl.flag, dest=fl.dest, action=argparse.BooleanOptionalAction, default=None,
                                help=fl.help)
            continue
        kwargs: dict[str, Any] = dict(dest=fl.dest, type=_argparse_type(fl.parse), default=None,  # type: ignore[arg-type]
                                      nargs=fl.nargs, choices=fl.choices)
        if not fl.choices:
            kwargs["metavar"] = _metavar(fl)
        parser.add_argument(fl.flag, help=fl.help, **kwargs)
        for old in fl.info.deprecated_flags:
            parser.add_argument(old, action=_DeprecatedFlag, replacement=fl.flag, help=argparse.SUPPRESS, **kwargs)


def _metavar(fl: Flag) -> str:
    """The value's name in ``--help``: its unit (``HZ``, ``SAMPLES``), else ``N`` for a count, else the field's name."""
    if fl.info.unit:
        return fl.info.unit.upper().replace("/", "_PER_")
    if fl.parse is int:
        return "N"
    return fl.dest.rsplit(".", 1)[-1].upper()


def flag_values(args: argparse.Namespace, flags: Sequence[Flag]) -> dict[str, Any]:
    """{dest: value} of the flags given on the command line (tuples for tuple fields)."""
    values = {}
    for fl in flags:
        value = getattr(args, fl.dest, None)
        if value is not None:
            values[fl.dest] = tuple(value) if fl.nargs is not None else value
    return values


def to_argv(obj: Any, flags: Sequence[Flag]) -> list[str]:
    """The flags that set ``obj``'s values (fields that are None are left out): parsing them gives ``obj`` back."""
    argv: list[str] = []
    for fl in flags:
        value = obj
        for part in fl.dest.split("."):
            value = getattr(value, part)
        if value is None:
            continue
        if fl.is_switch:
            argv.append(fl.flag if value else "--no-" + fl.flag[2:])
        elif fl.nargs is not None:
            argv += [fl.flag, *map(str, value)]
        else:
            argv.append(f"{fl.flag}={value}")  # one token: a value may start with '-'
    return argv
