"""Hydrogen drum kits: parse drumkit.xml, load and vet the sample files, sequence hits into patterns.

A kit's instruments are sorted into roles by name (kick, snare, hi-hat, ...). Kits with a kick and a
snare get rock/funk style grooves; other kits (effects, guitar strums) get per-bar chord/hit patterns.
All audio here is mono float64 at 44.1 kHz.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .audio import load_mono
from .bandwidth import measure

SAMPLE_RATE = 44100
STEPS_PER_BAR = 16

ROLE_PATTERNS = (
    ("kick", r"kick|\bbd\b|bass ?drum|bassdrum"),
    ("snare", r"snare|\bsd\b|rim"),
    ("clap", r"clap"),
    ("hihat_open", r"(open.*(hat|hh))|((hat|hh).*open)"),
    ("hihat_closed", r"hat|\bhh"),
    ("ride", r"ride"),
    ("crash", r"crash|splash|china|cymbal"),
    ("tom", r"tom"),
)


class KitError(ValueError):
    """A drumkit.xml that cannot be used."""


@dataclass
class Layer:
    path: Path
    min_velocity: float
    max_velocity: float
    gain: float


@dataclass
class KitInstrument:
    name: str
    gain: float
    layers: list[Layer]
    role: str = "perc"


@dataclass
class Kit:
    name: str
    folder: Path
    instruments: list[KitInstrument] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # sample files named in drumkit.xml but absent

    @property
    def is_strums(self) -> bool:
        return bool(re.search(r"strum|guitar", self.name + " " + self.folder.name, re.I))

    def roles(self) -> dict[str, list[KitInstrument]]:
        out: dict[str, list[KitInstrument]] = {}
        for inst in self.instruments:
            out.setdefault(inst.role, []).append(inst)
        return out


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child_text(elem: ET.Element, name: str, default: str = "") -> str:
    for child in elem:
        if _local(child.tag) == name:
            return (child.text or "").strip()
    return default


def _float(text: str, default: float) -> float:
    try:
        return float(text)
    except ValueError:
        return default


def role_of(name: str) -> str:
    """Instrument role from its name ('perc' when nothing matches)."""
    low = name.lower()
    for role, pattern in ROLE_PATTERNS:
        if re.search(pattern, low):
            return role
    return "perc"


def parse_kit(xml_path: str | Path) -> Kit:
    """Parse a Hydrogen drumkit.xml (old format: <filename> in <instrument>; new: <layer> elements, possibly
    inside <instrumentComponent>). Layers whose file is absent are listed in ``kit.missing`` and skipped;
    instruments left without a layer are skipped."""
    xml_path = Path(xml_path)
    try:
        root = ET.parse(xml_path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise KitError(f"{xml_path}: cannot parse drumkit.xml: {exc}") from exc
    kit = Kit(_child_text(root, "name", xml_path.parent.name) or xml_path.parent.name, xml_path.parent)
    for elem in root.iter():
        if _local(elem.tag) != "instrument":
            continue
        name = re.sub(r"\s+", " ", _child_text(elem, "name")).strip(" \\/") or "instrument"
        gain = _float(_child_text(elem, "gain", "1"), 1.0) * _float(_child_text(elem, "volume", "1"), 1.0)
        layers = []
        for sub in elem.iter():
            if _local(sub.tag) == "layer":
                fname = _child_text(sub, "filename")
                if fname:
                    layers.append(Layer(kit.folder / fname, _float(_child_text(sub, "min", "0"), 0.0),
                                        _float(_child_text(sub, "max", "1"), 1.0), _float(_child_text(sub, "gain", "1"), 1.0)))
        direct = _child_text(elem, "filename")
        if not layers and direct:
            layers.append(Layer(kit.folder / direct, 0.0, 1.0, 1.0))
        if not layers:
            continue
        kit.missing += [str(layer.path) for layer in layers if not layer.path.is_file()]
        layers = [layer for layer in layers if layer.path.is_file()]
        if not layers:
            continue
        kit.instruments.append(KitInstrument(name, gain, layers, role_of(name)))
    if not kit.instruments:
        raise KitError(f"{xml_path}: no instrument with a sample file")
    return kit


def vet_kit(kit: Kit, min_rate: int = SAMPLE_RATE) -> tuple[Kit, list[dict]]:
    """Measure every sample file; drop files below ``min_rate`` or without a real top band, then
    instruments left without layers. Returns (kit with kept files, one record per file)."""
    records = []
    kept_instruments = []
    for inst in kit.instruments:
        layers = []
        for layer in inst.layers:
            audio, rate = load_mono(layer.path, SAMPLE_RATE, keep_rate=True)
            rec = {"file": str(layer.path), "instrument": inst.name, "rate": rate}
            if rate < min_rate:
                rec.update(kept=False, reason=f"sample rate {rate} < {min_rate}")
            else:
                bw = measure(audio, rate)
                rec.update(bw.as_dict(), kept=bw.ok, reason="" if bw.ok else "no top band")
            records.append(rec)
            if rec["kept"]:
                layers.append(layer)
        if layers:
            kept_instruments.append(KitInstrument(inst.name, inst.gain, layers, inst.role))
    return Kit(kit.name, kit.folder, kept_instruments, list(kit.missing)), records


# ---------------------------------------------------------------- sequencing

@dataclass(frozen=True)
class Hit:
    time_s: float
    instrument: int  # index into kit.instruments
    velocity: float  # 0..1


KICK_TEMPLATES = ((0, 8), (0, 6, 8), (0, 7, 10), (0, 3, 8, 11), (0, 10), (0, 6, 10, 14))


def _euclid(k: int, n: int, rotate: int) -> list[int]:
    return [i for i in range(n) if ((i + rotate) * k) % n < k]


def sequence(kit: Kit, seconds: float, rng: np.random.Generator) -> tuple[list[Hit], float, str]:
    """Hits of a pattern filling ``seconds``; returns (hits, tempo BPM, style)."""
    roles = kit.roles()
    bpm = float(rng.uniform(70, 170))
    step = 60.0 / bpm / 4
    swing = float(rng.choice([0.0, 0.0, 0.12, 0.2])) * step
    n_bars = int(np.ceil(seconds / (STEPS_PER_BAR * step))) + 1
    index = {id(inst): i for i, inst in enumerate(kit.instruments)}
    hits: list[Hit] = []

    def add(bar: int, stp: int, inst: KitInstrument, vel: float) -> None:
        t = (bar * STEPS_PER_BAR + stp) * step + (swing if stp % 2 else 0.0) + rng.normal(0, 0.004)
        if 0 <= t < seconds:
            hits.append(Hit(max(t, 0.0), index[id(inst)], float(np.clip(vel + rng.normal(0, 0.06), 0.05, 1.0))))

    def draw(pool: list[KitInstrument]) -> KitInstrument:
        return pool[int(rng.integers(len(pool)))]

    def pick(role: str) -> KitInstrument | None:
        pool = roles.get(role)
        return draw(pool) if pool else None

    back = roles.get("snare") or roles.get("clap")
    if kit.is_strums:
        style = "strums"
        rhythm = [s for s in range(STEPS_PER_BAR) if rng.random() < (0.9 if s % 4 == 0 else 0.35 if s % 2 == 0 else 0.1)] or [0]
        chords = kit.instruments
        for bar in range(n_bars):
            chord = chords[int(rng.integers(len(chords)))]
            for s in rhythm:
                add(bar, s, chord, 0.9 if s % 4 == 0 else 0.6)
    elif (kick_pool := roles.get("kick")) and back:
        style = "groove"
        kick, snare = draw(kick_pool), draw(back)
        timekeeper = pick("ride") if rng.random() < 0.25 and roles.get("ride") else pick("hihat_closed") or pick("ride")
        open_hat, crash = pick("hihat_open"), pick("crash")
        kicks = KICK_TEMPLATES[int(rng.integers(len(KICK_TEMPLATES)))]
        hat_steps = range(0, STEPS_PER_BAR, int(rng.choice([2, 2, 1, 4])))
        extras = [inst for r in ("tom", "perc", "clap") for inst in roles.get(r, [])]
        for bar in range(n_bars):
            fill = bar % 4 == 3 and extras and rng.random() < 0.6
            for s in kicks:
                add(bar, s, kick, 0.95)
            for s in (4, 12):
                add(bar, s, snare, 0.9)
            if rng.random() < 0.5:
                add(bar, int(rng.choice([7, 9, 15])), snare, 0.3)
            if timekeeper is not None:
                for s in hat_steps:
                    if fill and s >= 12:
                        continue
                    if open_hat is not None and s == 14 and rng.random() < 0.3:
                        add(bar, s, open_hat, 0.7)
                    else:
                        add(bar, s, timekeeper, 0.8 if s % 4 == 0 else 0.55)
            if crash is not None and bar % 4 == 0 and bar > 0:
                add(bar, 0, crash, 0.85)
            if fill:
                for s in range(12, 16):
                    add(bar, s, extras[int(rng.integers(len(extras)))], 0.75)
    else:
        style = "percussion"
        n_voices = min(len(kit.instruments), int(rng.integers(2, 6)))
        voices = [kit.instruments[i] for i in rng.choice(len(kit.instruments), n_voices, replace=False)]
        patterns = [_euclid(int(rng.integers(1, 8)), STEPS_PER_BAR, int(rng.integers(STEPS_PER_BAR))) for _ in voices]
        for bar in range(n_bars):
            for inst, pattern in zip(voices, patterns):
                for s in pattern:
                    add(bar, s, inst, 0.8 if s % 4 == 0 else 0.6)
    hits.sort(key=lambda h: (h.time_s, h.instrument))
    return hits, bpm, style


def choose_layer(inst: KitInstrument, velocity: float) -> Layer:
    """The layer whose velocity range holds ``velocity`` (the closest one otherwise)."""
    for layer in inst.layers:
        if layer.min_velocity <= velocity <= layer.max_velocity:
            return layer
    return min(inst.layers, key=lambda l: min(abs(l.min_velocity - velocity), abs(l.max_velocity - velocity)))


def render_hits(kit: Kit, hits: list[Hit], seconds: float, cache: dict[Path, np.ndarray] | None = None) -> np.ndarray:
    """Mix the hits into a mono 44.1 kHz buffer of ``seconds`` (float64; not normalised).
    Amplitude = instrument gain x layer gain x velocity."""
    n = int(round(seconds * SAMPLE_RATE))
    out = np.zeros(n)
    cache = {} if cache is None else cache
    for hit in hits:
        inst = kit.instruments[hit.instrument]
        layer = choose_layer(inst, hit.velocity)
        if layer.path not in cache:
            cache[layer.path] = load_mono(layer.path, SAMPLE_RATE)[0]
        sample = cache[layer.path]
        start = int(round(hit.time_s * SAMPLE_RATE))
        if start >= n:
            continue
        piece = sample[: n - start]
        out[start : start + piece.size] += piece * inst.gain * layer.gain * hit.velocity
    return out


def discover_kits(roots: list[Path]) -> list[Path]:
    """Every drumkit.xml under ``roots`` (sorted paths)."""
    found = []
    for root in roots:
        if root.is_dir():
            found += sorted(root.glob("*/drumkit.xml"))
    return sorted(set(found))
