"""Build settings and the context handed to rendering workers."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .drums import Kit

SAMPLE_RATE = 44100
DEFAULT_BANK = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
DEFAULT_KIT_ROOTS = (Path("/usr/share/hydrogen/data/drumkits"),)
DEFAULT_OPENMSX = Path("/usr/share/games/openttd/baseset/openmsx")
SOURCE_WEIGHTS = {"music21": 0.35, "openmsx": 0.3, "mma": 0.35}
SILENCE_DBFS = -50.0


@dataclass
class BuildConfig:
    out: Path
    hours: float
    seed: int = 0
    workers: int = 1
    clip_seconds: float = 10.0
    max_clips_per_piece: int = 6
    drum_fraction: float = 0.3
    validation_fraction: float = 0.1
    audio_format: str = "flac"
    sources: tuple[str, ...] = ("music21", "openmsx", "mma", "drums")
    bank: Path = DEFAULT_BANK
    kit_roots: tuple[Path, ...] = DEFAULT_KIT_ROOTS
    openmsx_dir: Path = DEFAULT_OPENMSX
    max_piece_seconds: float = 120.0
    min_rate: int = SAMPLE_RATE
    overwrite: bool = False
    probe_presets: bool = True  # render a test phrase per program and skip those without a top band


@dataclass
class Context:
    """What workers need (picklable)."""

    config: BuildConfig
    bank: Path | None = None
    melodic: list[int] = field(default_factory=list)  # playable bank-0 programs
    drum_programs: list[int] = field(default_factory=list)  # playable bank-128 programs
    kits: list[Kit] = field(default_factory=list)
    music21: list[str] = field(default_factory=list)
    music21_root: str = ""
    openmsx: list[str] = field(default_factory=list)
    grooves: list[str] = field(default_factory=list)
