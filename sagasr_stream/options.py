"""Dataclass fields that describe themselves for the command line (no argparse here).

A settings or config field declared with :func:`option` carries its help text, unit, choices and flag name in
``field.metadata["option"]`` (an :class:`OptionInfo`); the command line derives its flags from that
(:mod:`sagasr_stream.cli.fields`), so each quantity is named, typed and explained once, beside its default.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

from .errors import SettingsError

OPTION_KEY = "option"


@dataclass(frozen=True)
class OptionInfo:
    """How a field appears on the command line.

    - ``help``: one line; ``unit``: e.g. "Hz", "samples", "windows" (shown as the metavar and in the help);
    - ``flag``: the flag (default ``--`` + the field name with dashes);
    - ``deprecated_flags``: old spellings that still work, hidden from ``--help``, with a warning;
    - ``choices``: allowed values (default: the field's ``Literal`` values, if any);
    - ``parse``: text -> value, for types the annotation cannot say (e.g. "Hz or 'auto'");
    - ``command_line``: False for fields only a config file sets.
    """

    help: str
    unit: str | None = None
    flag: str | None = None
    deprecated_flags: tuple[str, ...] = ()
    choices: tuple[Any, ...] | None = None
    parse: Callable[[str], Any] | None = None
    command_line: bool = True


def option(default: Any = dataclasses.MISSING, *, help: str, unit: str | None = None, flag: str | None = None,
           deprecated_flags: tuple[str, ...] = (), choices: tuple[Any, ...] | None = None,
           parse: Callable[[str], Any] | None = None, command_line: bool = True,
           default_factory: Any = dataclasses.MISSING) -> Any:
    """A :func:`dataclasses.field` with its command-line description (see :class:`OptionInfo`)."""
    info = OptionInfo(help, unit, flag, tuple(deprecated_flags), choices, parse, command_line)
    return dataclasses.field(default=default, default_factory=default_factory, metadata={OPTION_KEY: info})


def option_info(f: dataclasses.Field[Any]) -> OptionInfo | None:
    """The field's :class:`OptionInfo`, or None when it was declared without one."""
    return f.metadata.get(OPTION_KEY)


def number_or_word(what: str, *words: str) -> Callable[[str], float | str]:
    """A parser: a number (``what`` names it in the error, e.g. "a frequency in Hz"), or one of ``words``
    (raises :class:`SettingsError`, a ValueError, otherwise)."""
    spelled = ", ".join(repr(w) for w in words)

    def parse(text: str) -> float | str:
        if text in words:
            return text
        try:
            return float(text)
        except ValueError:
            raise SettingsError(f"expected {what} or {spelled}, got {text!r}") from None

    return parse


def hz_or_word(*words: str) -> Callable[[str], float | str]:
    """:func:`number_or_word` for a frequency in Hz."""
    return number_or_word("a frequency in Hz", *words)
