"""Whether a JSON value fits a dataclass field's type hint: the one check behind the bundle manifest's fields and the
training config's keys, so that a string where a number belongs, or "false" for false, is an error naming the field
instead of a value taken as it is (or a traceback later)."""
from __future__ import annotations

import types
import typing
from typing import Any

_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false", dict: "an object",
          type(None): "null"}


def type_problem(value: Any, hint: Any) -> str | None:
    """``None`` when the JSON value ``value`` fits the type hint ``hint``, else what the field takes ("an integer",
    "a number or null", "a list of 2 numbers", ...). ``float`` takes integers; a bool is no number; a tuple field
    takes a JSON list (``tuple[X, ...]`` any length, ``tuple[X, Y]`` exactly two); hints it does not know pass."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return None if any(type_problem(value, a) is None for a in args) else " or ".join(_name(a) for a in args)
    if origin is tuple:
        item, sized = args[0], args[-1] is not Ellipsis
        fits = (isinstance(value, (list, tuple)) and (not sized or len(value) == len(args))
                and all(type_problem(v, item) is None for v in value))
        return None if fits else _name(hint)
    kind = origin or hint
    if kind is Any or not isinstance(kind, type):
        return None
    if isinstance(value, bool) and kind is not bool:
        return _name(hint)
    return None if isinstance(value, (int, float) if kind is float else kind) else _name(hint)


def _name(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_name(a) for a in args)
    if origin is tuple:
        items = "strings" if args[0] is str else "numbers"
        return f"a list of {items}" if args[-1] is Ellipsis else f"a list of {len(args)} {items}"
    return _NAMES.get(origin or hint, getattr(hint, "__name__", str(hint)))
