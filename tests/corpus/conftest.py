"""Fixtures: a synthetic Hydrogen kit written into tmp_path (no Debian packages needed)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import signal

SR = 44100


def write_wav(path: Path, audio: np.ndarray, rate: int = SR) -> Path:
    from pedalboard.io import AudioFile

    with AudioFile(str(path), "w", rate, 1, bit_depth=24) as f:
        f.write(np.asarray(audio, dtype=np.float32)[None, :])
    return path


def drum_hit(seed: int, seconds: float = 0.3, tone_hz: float = 0.0, rate: int = SR, cutoff_hz: float | None = None) -> np.ndarray:
    """Decaying white noise (+ an optional tone): full-band unless ``cutoff_hz`` low-passes it hard."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    x = rng.standard_normal(t.size) * 0.3 + (np.sin(2 * np.pi * tone_hz * t) if tone_hz else 0.0)
    if cutoff_hz:
        x = signal.sosfiltfilt(signal.ellip(10, 0.1, 100, cutoff_hz / (rate / 2), output="sos"), x)
    return (0.5 * x * np.exp(-t * 12) / np.abs(x).max()).astype(np.float32)


KIT_XML = """<?xml version="1.0" encoding="UTF-8"?>
<drumkit_info xmlns="http://www.hydrogen-music.org/drumkit">
 <name>{name}</name>
 <instrumentList>
  <instrument><id>0</id><name>Kick</name><gain>1</gain>
   <layer><filename>kick_soft.wav</filename><min>0</min><max>0.5</max><gain>1</gain></layer>
   <layer><filename>kick_hard.wav</filename><min>0.5</min><max>1</max><gain>1</gain></layer>
  </instrument>
  <instrument><id>1</id><name>Snare</name><gain>0.8</gain>
   <layer><filename>snare.wav</filename><min>0</min><max>1</max><gain>1</gain></layer>
  </instrument>
  <instrument><id>2</id><name>Hi Hat Closed</name><filename>hat.wav</filename></instrument>
  <instrument><id>3</id><name>Dull Tom</name>
   <instrumentComponent><layer><filename>dull.wav</filename><min>0</min><max>1</max><gain>1</gain></layer></instrumentComponent>
  </instrument>
  <instrument><id>4</id><name>Lo-fi Clap</name><filename>lofi.wav</filename></instrument>
  <instrument><id>5</id><name>Ghost</name><filename>missing.wav</filename></instrument>
  <instrument><id>6</id><name>Empty</name></instrument>
 </instrumentList>
</drumkit_info>
"""


def make_kit(folder: Path, name: str = "TestKit") -> Path:
    """A kit with 3 good instruments, a band-limited one (4 kHz), a 22.05 kHz one, a missing file and an
    instrument without samples. Returns the drumkit.xml path."""
    folder.mkdir(parents=True, exist_ok=True)
    write_wav(folder / "kick_soft.wav", drum_hit(1, tone_hz=60))
    write_wav(folder / "kick_hard.wav", drum_hit(2, tone_hz=60))
    write_wav(folder / "snare.wav", drum_hit(3, tone_hz=200))
    write_wav(folder / "hat.wav", drum_hit(4, seconds=0.1))
    write_wav(folder / "dull.wav", drum_hit(5, tone_hz=100, cutoff_hz=4000))
    write_wav(folder / "lofi.wav", drum_hit(6, rate=22050), rate=22050)
    xml = folder / "drumkit.xml"
    xml.write_text(KIT_XML.format(name=name))
    return xml


@pytest.fixture
def kit_root(tmp_path: Path) -> Path:
    root = tmp_path / "kits"
    make_kit(root / "kit_a", "Kit A")
    make_kit(root / "kit_b", "Kit B")
    return root


@pytest.fixture
def kit_xml(tmp_path: Path) -> Path:
    """One synthetic kit (see make_kit) in tmp_path/k; returns its drumkit.xml."""
    return make_kit(tmp_path / "k")
