"""A training set mixed from several corpora: links to each one's training clips, with their captions.

``sagasr-train mix OUT fl=.gpu/corpus ms=MS9:2 cs=CS10:2``: each source is ``PREFIX=FOLDER[:STRIDE]``, a folder
holding either a corpus build (``manifest.json``: its training-split clips, sorted by path, with their captions) or
a file list (``train.txt`` and ``captions.jsonl``, in the list's order, such as the GPU run's copy). Every
STRIDE-th clip (from the first) is linked as ``OUT/clips/PREFIX_<file name>``; ``OUT/train.txt`` and
``OUT/captions.jsonl`` name them for ``--file-list`` and ``--captions`` (and ``sagasr-train text-tokens``).

``holdout``: a corpus build's clips whose group (source piece or kit) a corpus of that seed would put in its
validation split (``corpus.split.validated_by_hash``) are left out, so that no piece of the
evaluation clips (the seed-0 corpus's validation split) is trained on through another bank. The hash rule only:
the split's at-least-one-per-kind guarantee depends on the whole corpus and is not repeated. A file list has no
groups and is taken as listed (the GPU run's copy is the seed-0 corpus's training split already).

``exclude``: groups named outright (``--exclude-groups FILE``, one per line; ``#`` starts a comment), for pieces
that evaluation sets outside the hash rule hold (the choice sets' clips, ms7): ``sagasr-train untrained-groups
CORPUS:TRAINED_CLIPS MS7 -o FILE`` lists the groups of the clips that no training set used.
"""
from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from .audio_files import listed_audio, named_folder
from .captions import read_cache, write_listing
from .corpus.split import validated_by_hash

_PREFIX = re.compile(r"[A-Za-z0-9]+")


@dataclass(frozen=True)
class MixSource:
    """One corpus of a mixed set: its clips' link names start with ``prefix``; every ``stride``-th clip is used."""

    prefix: str
    folder: Path
    stride: int = 1

    @classmethod
    def parse(cls, text: str) -> "MixSource":
        """``PREFIX=FOLDER[:STRIDE]`` -> MixSource (errors name the text)."""
        prefix, folder, stride = named_folder(text)
        if not _PREFIX.fullmatch(prefix) or not folder:
            raise ValueError(f"mix source {text!r}: expected PREFIX=FOLDER[:STRIDE], PREFIX letters and digits")
        if stride is not None and stride < 1:
            raise ValueError(f"mix source {text!r}: the stride must be >= 1")
        return cls(prefix, Path(folder), 1 if stride is None else stride)


@dataclass(frozen=True)
class Holdout:
    """The groups a corpus of seed ``seed`` puts in validation (hash number below ``fraction``) are left out."""

    seed: int = 0
    fraction: float = 0.1

    def __post_init__(self) -> None:
        if not 0 < self.fraction < 1:
            raise ValueError(f"hold-out fraction must be in (0, 1), got {self.fraction}")

    def holds(self, group: str) -> bool:
        return validated_by_hash(group, self.seed, self.fraction)


def source_clips(folder: str | os.PathLike[str]) -> list[tuple[str, str, str | None]]:
    """The training clips of a corpus folder as (path relative to it, caption, group or None where none is known, as in a file list),
    in the order described above."""
    folder = Path(folder)
    manifest = folder / "manifest.json"
    if manifest.is_file():
        clips = json.loads(manifest.read_text(encoding="utf-8")).get("clips", [])
        rows = sorted((c["path"], c.get("caption", ""), c.get("group")) for c in clips if c.get("split") == "train")
        if not rows:
            raise ValueError(f"{manifest}: no clips of the training split")
        return rows
    listing, cache = folder / "train.txt", folder / "captions.jsonl"
    if not listing.is_file():
        raise FileNotFoundError(f"{folder}: neither a corpus manifest.json nor a train.txt")
    captions = read_cache(cache)
    rows = []
    for path in listed_audio(folder, listing):
        rel = path.relative_to(folder).as_posix()
        if rel not in captions:
            raise ValueError(f"{cache}: no caption for {rel}")
        rows.append((rel, captions[rel], None))
    return rows


def read_groups(path: str | os.PathLike[str]) -> frozenset[str]:
    """The group names of a text file, one per line (blank lines and ``#`` comments skipped)."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return frozenset(line.split("#", 1)[0].strip() for line in lines) - {""}


def untrained_groups(corpus: str | os.PathLike[str], trained: str | os.PathLike[str] | None = None) -> set[str]:
    """The groups of a corpus build's clips (any split) whose file name is not in the folder ``trained`` (a
    training set's copies, such as ``carry``'s clips/); without ``trained``, every clip's group."""
    manifest = Path(corpus) / "manifest.json"
    if not manifest.is_file():
        raise FileNotFoundError(f"{corpus}: no manifest.json (a corpus build)")
    used = {p.name for p in Path(trained).iterdir()} if trained is not None else set()
    clips = json.loads(manifest.read_text(encoding="utf-8")).get("clips", [])
    return {c["group"] for c in clips if c.get("group") and Path(c["path"]).name not in used}


def _link(target: Path, link: Path) -> None:
    """A relative symbolic link (a copy where the file system has none)."""
    try:
        link.symlink_to(os.path.relpath(target.resolve(), link.parent.resolve()))
    except OSError:
        shutil.copy2(target, link)


def mix_sets(out: str | os.PathLike[str], sources: list[MixSource], holdout: Holdout | None = None,
             exclude: frozenset[str] = frozenset()) -> int:
    """Write the mixed set to ``out`` (a new or empty folder); returns the number of clips. With ``holdout``,
    the held-out groups' clips are dropped after the stride is taken; so are the clips whose group is in
    ``exclude``."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out}: not empty (a mixed set is written into a new folder)")
    prefixes = [s.prefix for s in sources]
    if len(set(prefixes)) != len(prefixes):
        raise ValueError(f"mix sources need distinct prefixes, got {prefixes}")
    chosen: list[tuple[Path, str, str]] = []  # (target, link name, caption)
    for source in sources:
        for rel, caption, group in source_clips(source.folder)[::source.stride]:
            if group is not None and (group in exclude or (holdout is not None and holdout.holds(group))):
                continue
            chosen.append((source.folder / rel, f"clips/{source.prefix}_{Path(rel).name}", caption))
    if not chosen:
        raise ValueError("no clips left to mix (every source's clips were held out)")
    names = [name for _, name, _ in chosen]
    if len(set(names)) != len(names):
        clash = next(n for n in names if names.count(n) > 1)
        raise ValueError(f"two clips of one source would both be linked as {clash}")
    (out / "clips").mkdir(parents=True, exist_ok=True)
    for target, name, _ in chosen:
        if not target.is_file():
            raise FileNotFoundError(f"{target}: listed, but not a file")
        _link(target, out / name)
    write_listing(out, [(name, cap) for _, name, cap in chosen])
    return len(chosen)
