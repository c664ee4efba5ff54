"""Fixed, named evaluation splits: a tuning split (choices such as the default steps are made on it) and a
test split (the headline table; nothing is chosen on it).

A clip's split depends on its name only (the file name without folder and suffix, as ``sagasr eval`` names
clips): the first 8 bytes of SHA-256("sagasr-eval-split-v2:" + name), read as an unsigned big-endian
integer and divided by 2**64, below ``TUNING_FRACTION`` -> "tuning", else "test". Same name, same split, on
any machine and whatever the other clips are.
"""
from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Literal, TypeVar

from ..errors import EvaluationError, ParameterError

SPLIT_SALT = "sagasr-eval-split-v2:"  # v1 put 7 of the 17 shipped clips in tuning; v2 puts 4 (chosen on names only)
TUNING_FRACTION = 0.25
SPLITS = ("tuning", "test", "all")

Split = Literal["tuning", "test", "all"]
T = TypeVar("T")


def split_of(name: str) -> Literal["tuning", "test"]:
    """The split ("tuning" or "test") of the clip called ``name``."""
    digest = hashlib.sha256((SPLIT_SALT + name).encode("utf-8")).digest()
    return "tuning" if int.from_bytes(digest[:8], "big") / 2.0**64 < TUNING_FRACTION else "test"


def select_split(clips: Mapping[str, T], split: str) -> dict[str, T]:
    """The clips of ``split`` ("tuning", "test" or "all"), in their given order; raises EvaluationError (a ValueError) when none."""
    if split not in SPLITS:
        raise ParameterError(f"unknown split {split!r}; expected one of {SPLITS}")
    chosen = {name: clip for name, clip in clips.items() if split == "all" or split_of(name) == split}
    if not chosen:
        raise EvaluationError(
            f"no clip of the {split!r} split among {len(clips)} clip(s) ({', '.join(list(clips)[:5])}...); "
            "pass more clips or --split all"
        )
    return chosen


def split_listing(names: list[str]) -> dict[str, list[str]]:
    """{"tuning": [...], "test": [...]}: the split of every name, for the report."""
    out: dict[str, list[str]] = {"tuning": [], "test": []}
    for name in names:
        out[split_of(name)].append(name)
    return out


def describe_rule() -> str:
    """One sentence stating the split rule, for report.json / report.md."""
    return (f"split by name: first 8 bytes of SHA-256('{SPLIT_SALT}' + clip name) / 2**64 < {TUNING_FRACTION} "
            "-> tuning, else test")
