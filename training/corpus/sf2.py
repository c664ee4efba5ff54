"""A small SoundFont 2 (SF2) reader/writer: enough to check sample rates and write pruned banks.

An SF2 file is RIFF 'sfbk' with LIST 'INFO', LIST 'sdta' (``smpl``: int16 sample points, optional ``sm24``)
and LIST 'pdta' (phdr/pbag/pmod/pgen presets -> inst/ibag/imod/igen instruments -> shdr sample headers).
Generators are kept raw (operator, 16-bit amount); only ``instrument`` (41) and ``sampleID`` (53) are
re-indexed on pruning. SF3 (Vorbis-compressed) banks are recognised and rejected by the rate check.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Sequence, TypeVar

GEN_INSTRUMENT = 41
GEN_SAMPLE_ID = 53
SAMPLE_TYPE_COMPRESSED = 0x10  # SF3 Vorbis sample
SAMPLE_TYPE_ROM = 0x8000
TERMINAL_PADDING = 46  # zero sample points required after each sample


class SF2Error(ValueError):
    """A malformed or unsupported SoundFont file."""


@dataclass
class Zone:
    """One bag: generators [(operator, raw uint16 amount)] and modulators (raw 10-byte records)."""

    generators: list[tuple[int, int]] = field(default_factory=list)
    modulators: list[bytes] = field(default_factory=list)

    def get(self, operator: int) -> int | None:
        for op, amount in self.generators:
            if op == operator:
                return amount
        return None


@dataclass
class Preset:
    name: str
    program: int
    bank: int
    zones: list[Zone]
    library: int = 0
    genre: int = 0
    morphology: int = 0


@dataclass
class Instrument:
    name: str
    zones: list[Zone]


@dataclass
class Sample:
    """A sample header plus its int16 data (``data``: little-endian int16 bytes, no padding)."""

    name: str
    sample_rate: int
    original_pitch: int
    pitch_correction: int
    link: int
    sample_type: int
    loop_start: int  # relative to the sample start, in sample points
    loop_end: int
    data: bytes = b""
    data24: bytes = b""  # optional sm24 low bytes, one per sample point

    @property
    def n_points(self) -> int:
        return len(self.data) // 2


@dataclass
class SoundFont:
    presets: list[Preset]
    instruments: list[Instrument]
    samples: list[Sample]
    name: str = "sagasr"
    version: tuple[int, int] = (2, 1)
    info: dict[str, bytes] = field(default_factory=dict)

    def preset_samples(self, preset: Preset) -> list[int]:
        """Indices of every sample a preset can play (through its instruments), sorted, unique."""
        out: set[int] = set()
        for zone in preset.zones:
            inst = zone.get(GEN_INSTRUMENT)
            if inst is None:
                continue
            if inst >= len(self.instruments):
                raise SF2Error(f"preset {preset.name!r} refers to missing instrument {inst}")
            for izone in self.instruments[inst].zones:
                sid = izone.get(GEN_SAMPLE_ID)
                if sid is None:
                    continue
                if sid >= len(self.samples):
                    raise SF2Error(f"instrument {self.instruments[inst].name!r} refers to missing sample {sid}")
                out.add(sid)
        return sorted(out)


# ---------------------------------------------------------------- reading

def _chunks(data: bytes, start: int, end: int, path: str) -> list[tuple[bytes, int, int]]:
    """(id, payload start, payload end) of the RIFF sub-chunks in data[start:end]."""
    out = []
    pos = start
    while pos + 8 <= end:
        cid, size = struct.unpack_from("<4sI", data, pos)
        body = pos + 8
        if body + size > end:
            raise SF2Error(f"{path}: chunk {cid!r} at byte {pos} runs past its container")
        out.append((cid, body, body + size))
        pos = body + size + (size & 1)
    return out


def _name(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("latin-1").strip()


def _records(data: bytes, start: int, end: int, size: int, what: str, path: str) -> list[bytes]:
    if (end - start) % size:
        raise SF2Error(f"{path}: {what} chunk size {end - start} is not a multiple of {size}")
    return [data[i : i + size] for i in range(start, end, size)]


def _zones(bags: list[tuple[int, int]], gens: list[tuple[int, int]], mods: list[bytes], first: int, last: int) -> list[Zone]:
    zones = []
    for b in range(first, last):
        g0, m0 = bags[b]
        g1, m1 = bags[b + 1]
        zones.append(Zone(list(gens[g0:g1]), list(mods[m0:m1])))
    return zones


def read_sf2(path: str | Path, with_data: bool = True) -> SoundFont:
    """Parse an SF2/SF3 file. ``with_data=False`` skips copying sample points (fast rate checks)."""
    path = str(path)
    data = Path(path).read_bytes()
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"sfbk":
        raise SF2Error(f"{path}: not a SoundFont (no RIFF 'sfbk' header)")
    lists = {}
    info: dict[str, bytes] = {}
    for cid, s, e in _chunks(data, 12, min(len(data), 8 + struct.unpack_from("<I", data, 4)[0]), path):
        if cid == b"LIST":
            lists[data[s : s + 4]] = _chunks(data, s + 4, e, path)
    for key in (b"INFO", b"sdta", b"pdta"):
        if key not in lists:
            raise SF2Error(f"{path}: missing LIST {key.decode()} chunk")
    version = (2, 1)
    for cid, s, e in lists[b"INFO"]:
        info[cid.decode("latin-1")] = data[s:e]
        if cid == b"ifil":
            major, minor = struct.unpack_from("<HH", data, s)
            version = (major, minor)
    smpl = sm24 = (0, 0)
    for cid, s, e in lists[b"sdta"]:
        if cid == b"smpl":
            smpl = (s, e)
        elif cid == b"sm24":
            sm24 = (s, e)
    pd = {cid: (s, e) for cid, s, e in lists[b"pdta"]}
    for key in (b"phdr", b"pbag", b"pmod", b"pgen", b"inst", b"ibag", b"imod", b"igen", b"shdr"):
        if key not in pd:
            raise SF2Error(f"{path}: missing pdta sub-chunk {key.decode()}")

    def bags(key: bytes) -> list[tuple[int, int]]:
        return [struct.unpack("<HH", r) for r in _records(data, *pd[key], 4, key.decode(), path)]

    def gens(key: bytes) -> list[tuple[int, int]]:
        return [struct.unpack("<HH", r) for r in _records(data, *pd[key], 4, key.decode(), path)]

    def mods(key: bytes) -> list[bytes]:
        return _records(data, *pd[key], 10, key.decode(), path)

    pbag, pgen, pmod = bags(b"pbag"), gens(b"pgen"), mods(b"pmod")
    ibag, igen, imod = bags(b"ibag"), gens(b"igen"), mods(b"imod")
    phdr = [struct.unpack("<20sHHHIII", r) for r in _records(data, *pd[b"phdr"], 38, "phdr", path)]
    inst = [struct.unpack("<20sH", r) for r in _records(data, *pd[b"inst"], 22, "inst", path)]
    shdr = [struct.unpack("<20sIIIIIBbHH", r) for r in _records(data, *pd[b"shdr"], 46, "shdr", path)]
    if len(phdr) < 1 or len(inst) < 1 or len(shdr) < 1:
        raise SF2Error(f"{path}: pdta lacks terminal records")
    try:
        presets = [
            Preset(_name(h[0]), h[1], h[2], _zones(pbag, pgen, pmod, h[3], phdr[i + 1][3]), h[4], h[5], h[6])
            for i, h in enumerate(phdr[:-1])
        ]
        instruments = [Instrument(_name(h[0]), _zones(ibag, igen, imod, h[1], inst[i + 1][1])) for i, h in enumerate(inst[:-1])]
    except IndexError as exc:
        raise SF2Error(f"{path}: bag/generator indices out of range") from exc
    samples = []
    for h in shdr[:-1]:
        name, start, end, loop_start, loop_end, rate, pitch, corr, link, stype = h
        raw = raw24 = b""
        if with_data and not stype & (SAMPLE_TYPE_COMPRESSED | SAMPLE_TYPE_ROM):
            if smpl[0] + 2 * end > smpl[1] or end < start:
                raise SF2Error(f"{path}: sample {_name(name)!r} points {start}..{end} lie outside the smpl chunk")
            raw = data[smpl[0] + 2 * start : smpl[0] + 2 * end]
            if sm24[1] > sm24[0]:
                raw24 = data[sm24[0] + start : sm24[0] + end]
        samples.append(Sample(_name(name), rate, pitch, corr, link, stype, loop_start - start, loop_end - start, raw, raw24))
    return SoundFont(presets, instruments, samples, _name(info.get("INAM", b"")) or "sagasr", version, info)


# ---------------------------------------------------------------- rate check

@dataclass(frozen=True)
class PresetRates:
    bank: int
    program: int
    name: str
    rates: tuple[int, ...]  # distinct sample rates of the preset's samples, Hz
    compressed: bool

    def ok(self, min_rate: int) -> bool:
        return bool(self.rates) and not self.compressed and min(self.rates) >= min_rate


def preset_rates(font: SoundFont) -> list[PresetRates]:
    """Sample rates reached by each preset, sorted by (bank, program)."""
    out = []
    for p in font.presets:
        ids = font.preset_samples(p)
        rates = tuple(sorted({font.samples[i].sample_rate for i in ids}))
        compressed = font.version[0] >= 3 or any(font.samples[i].sample_type & SAMPLE_TYPE_COMPRESSED for i in ids)
        out.append(PresetRates(p.bank, p.program, p.name, rates, compressed))
    return sorted(out, key=lambda r: (r.bank, r.program))


def _referenced(zones: list[Zone], operator: int) -> list[int]:
    """The distinct amounts of generator ``operator`` in ``zones`` (the indices they refer to), sorted."""
    return sorted({amount for z in zones if (amount := z.get(operator)) is not None})


def prune(font: SoundFont, keep: set[tuple[int, int]]) -> SoundFont:
    """A new SoundFont with only the presets whose (bank, program) is in ``keep`` and the instruments and
    samples they use (indices renumbered; stereo links to dropped samples become mono)."""
    presets = [p for p in font.presets if (p.bank, p.program) in keep]
    inst_ids = _referenced([z for p in presets for z in p.zones], GEN_INSTRUMENT)
    inst_map = {old: new for new, old in enumerate(inst_ids)}
    sample_ids = _referenced([z for i in inst_ids for z in font.instruments[i].zones], GEN_SAMPLE_ID)
    sample_map = {old: new for new, old in enumerate(sample_ids)}

    def remap(zones: list[Zone], op: int, table: dict[int, int]) -> list[Zone]:
        return [Zone([(o, table[a] if o == op else a) for o, a in z.generators], list(z.modulators)) for z in zones]

    new_presets = [replace(p, zones=remap(p.zones, GEN_INSTRUMENT, inst_map)) for p in presets]
    new_insts = [Instrument(font.instruments[i].name, remap(font.instruments[i].zones, GEN_SAMPLE_ID, sample_map)) for i in inst_ids]
    new_samples = []
    for old in sample_ids:
        s = font.samples[old]
        if s.link in sample_map:
            new_samples.append(replace(s, link=sample_map[s.link]))
        else:
            mono = (s.sample_type & ~0x0F) | 1 if s.sample_type & 0x0E else s.sample_type
            new_samples.append(replace(s, link=0, sample_type=mono))
    return SoundFont(new_presets, new_insts, new_samples, font.name, font.version, dict(font.info))


# ---------------------------------------------------------------- writing

def _chunk(cid: bytes, payload: bytes) -> bytes:
    pad = b"\0" if len(payload) & 1 else b""
    return struct.pack("<4sI", cid, len(payload)) + payload + pad


def _list(kind: bytes, chunks: list[bytes]) -> bytes:
    return _chunk(b"LIST", kind + b"".join(chunks))


def _zstr(text: str) -> bytes:
    raw = text.encode("latin-1", "replace") + b"\0"
    return raw + (b"\0" if len(raw) & 1 else b"")


def _fixed(text: str) -> bytes:
    return text.encode("latin-1", "replace")[:20].ljust(20, b"\0")


_Item = TypeVar("_Item", Preset, Instrument)


def _hydra(items: Sequence[_Item], header: Callable[[_Item, int], bytes], terminal: Callable[[int], bytes],
           zones_of: Callable[[_Item], list[Zone]]) -> tuple[bytes, bytes, bytes, bytes]:
    """The header, bag, modulator and generator chunks of presets or instruments (``header(item, first bag)``,
    ``terminal(bag count)``: the closing record)."""
    hdr: list[bytes] = []
    bag: list[bytes] = []
    mod: list[bytes] = []
    gen: list[bytes] = []
    n_gen = n_mod = 0
    for item in items:
        hdr.append(header(item, len(bag)))
        for z in zones_of(item):
            bag.append(struct.pack("<HH", n_gen, n_mod))
            gen += [struct.pack("<HH", o, a) for o, a in z.generators]
            mod += list(z.modulators)
            n_gen += len(z.generators)
            n_mod += len(z.modulators)
    hdr.append(terminal(len(bag)))
    bag.append(struct.pack("<HH", n_gen, n_mod))
    mod.append(b"\0" * 10)
    gen.append(b"\0" * 4)
    return b"".join(hdr), b"".join(bag), b"".join(mod), b"".join(gen)


def write_sf2(font: SoundFont, path: str | Path) -> Path:
    """Serialise ``font`` as an SF2 file (each sample followed by 46 zero points). Returns the path."""
    path = Path(path)
    smpl, sm24, shdr = bytearray(), bytearray(), []
    has24 = any(s.data24 for s in font.samples)
    for s in font.samples:
        if s.sample_type & (SAMPLE_TYPE_COMPRESSED | SAMPLE_TYPE_ROM):
            raise SF2Error(f"cannot write compressed/ROM sample {s.name!r}")
        start = len(smpl) // 2
        smpl += s.data + b"\0" * (2 * TERMINAL_PADDING)
        if has24:
            sm24 += (s.data24 or b"\0" * s.n_points) + b"\0" * TERMINAL_PADDING
        end = start + s.n_points
        shdr.append(struct.pack("<20sIIIIIBbHH", _fixed(s.name), start, end, start + s.loop_start, start + s.loop_end,
                                s.sample_rate, s.original_pitch, s.pitch_correction, s.link, s.sample_type))
    shdr.append(struct.pack("<20sIIIIIBbHH", _fixed("EOS"), 0, 0, 0, 0, 0, 0, 0, 0, 0))
    phdr, pbag, pmod, pgen = _hydra(
        font.presets,
        lambda p, b: struct.pack("<20sHHHIII", _fixed(p.name), p.program, p.bank, b, p.library, p.genre, p.morphology),
        lambda b: struct.pack("<20sHHHIII", _fixed("EOP"), 0, 0, b, 0, 0, 0),
        lambda p: p.zones,
    )
    inst, ibag, imod, igen = _hydra(
        font.instruments,
        lambda i, b: struct.pack("<20sH", _fixed(i.name), b),
        lambda b: struct.pack("<20sH", _fixed("EOI"), b),
        lambda i: i.zones,
    )
    info = [_chunk(b"ifil", struct.pack("<HH", 2, 1)), _chunk(b"isng", _zstr("EMU8000")), _chunk(b"INAM", _zstr(font.name))]
    for key, value in font.info.items():
        if key not in ("ifil", "isng", "INAM") and len(key) == 4:
            info.append(_chunk(key.encode("latin-1"), value))
    sdta = [_chunk(b"smpl", bytes(smpl))] + ([_chunk(b"sm24", bytes(sm24))] if has24 else [])
    pdta = [_chunk(k, v) for k, v in ((b"phdr", phdr), (b"pbag", pbag), (b"pmod", pmod), (b"pgen", pgen),
                                      (b"inst", inst), (b"ibag", ibag), (b"imod", imod), (b"igen", igen),
                                      (b"shdr", b"".join(shdr)))]
    body = b"sfbk" + _list(b"INFO", info) + _list(b"sdta", sdta) + _list(b"pdta", pdta)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(struct.pack("<4sI", b"RIFF", len(body)) + body)
    tmp.replace(path)
    return path


def sine_bank(rates: dict[tuple[int, int], int], seconds: float = 0.5, name: str = "test") -> SoundFont:
    """A tiny playable bank for tests: one looped sine sample (A4 = MIDI 69) per preset.

    ``rates``: {(bank, program): sample rate Hz}. Each preset -> its own instrument -> its own sample.
    """
    import numpy as np

    presets, insts, samples = [], [], []
    for i, ((bank, program), rate) in enumerate(sorted(rates.items())):
        n = int(seconds * rate)
        period = rate / 440.0
        n = int(round(int(n / period) * period))
        t = np.arange(n)
        wave = (0.5 * 32767 * np.sin(2 * np.pi * 440.0 * t / rate)).astype("<i2").tobytes()
        samples.append(Sample(f"sine{i}", rate, 69, 0, 0, 1, 0, n, wave))
        # keyRange 0-127 (43: lo, hi bytes), sampleModes 1 (54: loop), sampleID (53) last
        insts.append(Instrument(f"inst{i}", [Zone([(43, 127 << 8), (54, 1), (GEN_SAMPLE_ID, i)])]))
        presets.append(Preset(f"preset{bank}_{program}", program, bank, [Zone([(43, 127 << 8), (GEN_INSTRUMENT, i)])]))
    return SoundFont(presets, insts, samples, name)
