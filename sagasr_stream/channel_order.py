"""Ogg Vorbis' channel order, which is not WAV's or FLAC's: pedalboard (JUCE) reads and writes a Vorbis stream's
channels in the stream's own order, unmapped, so without this a 5.1 WAV written to Ogg Vorbis played with its
centre on the right, and a 5.1 Ogg file was restored with (left, centre) as a stereo pair.

The Vorbis I specification (section 4.3.9) orders 3-8 channels as: 3 L, C, R; 4 FL, FR, RL, RR; 5 FL, C, FR, RL, RR;
6 FL, C, FR, RL, RR, LFE; 7 FL, C, FR, SL, SR, RC, LFE; 8 FL, C, FR, SL, SR, RL, RR, LFE. The runtime works in WAV's
order (FL, FR, FC, LFE, then the rear and side pairs, as a WAV's channel mask and FLAC's default layouts list them),
which its stereo modes pair up: an Ogg input is read into it and an Ogg output written out of it.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

# for each channel count, the WAV-order channel that each Vorbis channel holds
VORBIS_FROM_WAV = {3: (0, 2, 1), 5: (0, 2, 1, 3, 4), 6: (0, 2, 1, 4, 5, 3), 7: (0, 2, 1, 5, 6, 4, 3),
                   8: (0, 2, 1, 6, 7, 4, 5, 3)}  # 1, 2 and 4 channels: the same order
# ... and the Vorbis channel that each WAV-order channel comes from (the inverse permutations)
WAV_FROM_VORBIS = {count: tuple(int(i) for i in np.argsort(order)) for count, order in VORBIS_FROM_WAV.items()}


def is_vorbis_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names an Ogg Vorbis file (by its suffix, as the writer and the decoder choose)."""
    return Path(path).suffix.lower() == ".ogg"


def to_vorbis_order(block: np.ndarray) -> np.ndarray:
    """(channels, samples) in WAV order -> the same in Vorbis order (unchanged for 1, 2, 4 or over 8 channels)."""
    order = VORBIS_FROM_WAV.get(block.shape[0]) if block.ndim == 2 else None
    return block if order is None else block[list(order)]


def from_vorbis_order(block: np.ndarray) -> np.ndarray:
    """(channels, samples) in Vorbis order -> the same in WAV order (:func:`to_vorbis_order` undone)."""
    order = WAV_FROM_VORBIS.get(block.shape[0]) if block.ndim == 2 else None
    return block if order is None else block[list(order)]


class VorbisOrderReader:
    """An open reader of an Ogg Vorbis file (``read(n)``: (channels, <= n) float32) whose blocks come in WAV order;
    every other attribute is the wrapped reader's."""

    def __init__(self, reader: Any) -> None:
        self._reader = reader

    def read(self, n: int) -> np.ndarray:
        return from_vorbis_order(self._reader.read(n))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reader, name)
