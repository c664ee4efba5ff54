"""Deterministic train/validation split by group (source piece or kit)."""
from __future__ import annotations

import hashlib
from collections.abc import Iterable


def group_fraction(group: str, seed: int) -> float:
    """A stable pseudo-random number in [0, 1) for (seed, group)."""
    digest = hashlib.sha256(f"{seed}\0{group}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def validated_by_hash(group: str, seed: int, validation_fraction: float) -> bool:
    """The split's hash rule alone: ``group`` goes to validation in a corpus of ``seed`` (before the per-kind
    guarantee of :func:`assign_split`, which depends on the other groups)."""
    return group_fraction(group, seed) < validation_fraction


def assign_split(groups: Iterable[str], seed: int, validation_fraction: float = 0.1) -> dict[str, str]:
    """{group: 'train' | 'validation'}. A group goes to validation when its hash number is below
    ``validation_fraction``. Groups are named 'kind:name' (e.g. 'kit:BJA_Pacific', 'music21:bach/x.mxl');
    for each kind with two or more groups and a positive fraction, at least one validation and one training
    group exist (the lowest / highest hash numbers of that kind are moved when needed). A group's split
    does not depend on which other groups exist, except through that guarantee."""
    if not 0 <= validation_fraction < 1:
        raise ValueError(f"validation fraction must be in [0, 1), got {validation_fraction}")
    unique = sorted(set(groups))
    scores = {g: group_fraction(g, seed) for g in unique}
    split = {g: "validation" if validated_by_hash(g, seed, validation_fraction) else "train" for g in unique}
    if validation_fraction > 0:
        kinds: dict[str, list[str]] = {}
        for g in unique:
            kinds.setdefault(g.split(":", 1)[0], []).append(g)
        for members in kinds.values():
            if len(members) < 2:
                continue
            ordered = sorted(members, key=lambda g: scores[g])
            if all(split[g] == "train" for g in members):
                split[ordered[0]] = "validation"
            if all(split[g] == "validation" for g in members):
                split[ordered[-1]] = "train"
    return split
