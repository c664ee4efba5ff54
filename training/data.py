"""Training data: a folder of audio (any rate, any channel count) -> 44.1 kHz mono windows + on-the-fly LR.

Determinism: item ``i`` is a *global sample index* (step x world x batch + ...). The window it reads and every
random draw it makes (offset jitter, low-pass, dropouts) come from ``(seed, i)`` only, so a run resumed at step
``k`` sees exactly the data the uninterrupted run saw, whatever the worker count. Validation files are chosen
by a hash of their relative path (stable across machines and file additions).
"""
from __future__ import annotations

import hashlib
import warnings
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from sagasr_stream.audio_io import DECODE_BLOCK, AudioReader, decoder_path, open_input

from .audio_files import (AUDIO_EXTENSIONS, checked_clips, corpus_audio, frames_at,  # noqa: F401 (re-exported)
                          listed_audio, runtime_frames, scan_audio)
from .captions import CaptionStore
from .config import DataConfig  # noqa: F401 (re-exported)
from .degrade import training_pair


def is_validation(relpath: str, fraction: float) -> bool:
    """Deterministic split: sha1 of the POSIX relative path, first 8 bytes as a fraction of 2^64."""
    h = int.from_bytes(hashlib.sha1(relpath.encode("utf-8")).digest()[:8], "big")
    return h / 2.0**64 < fraction


def audio_frames(path: Path, sample_rate: int) -> int:
    """Length of ``path`` in samples at ``sample_rate``, as the runtime reads it (an MP3 without its encoder delay
    and padding: :func:`~sagasr_training.audio_files.runtime_frames`)."""
    from pedalboard.io import AudioFile

    with AudioFile(decoder_path(path)) as f:  # as the runtime opens it: "~/x" is a folder named "~"
        return frames_at(runtime_frames(int(f.frames), path), f.samplerate, sample_rate)


def skip_frames(reader: AudioReader, offset: int) -> None:
    """Move a reader of :func:`~sagasr_stream.audio_io.open_input` on by ``offset`` frames: an audio file seeks; an
    MP3 read gapless (:class:`~sagasr_stream.audio_io.TrimmedReader`) is decoded from its start and the frames
    before ``offset`` are dropped (pedalboard's own MP3 seek decodes from the start too)."""
    if hasattr(reader, "seek"):
        reader.seek(offset)
        return
    while offset > 0:
        dropped = reader.read(min(offset, DECODE_BLOCK)).shape[1]
        if not dropped:
            return
        offset -= dropped


def read_window(path: Path, offset: int, length: int, sample_rate: int) -> np.ndarray:
    """``length`` mono samples at ``sample_rate`` from ``offset`` (zero-padded at the end): (length,) float32,
    read as the runtime reads the file (:func:`~sagasr_stream.audio_io.open_input`: an MP3 gapless)."""
    with open_input(path, sample_rate) as (f, _channels, _rate):
        offset = min(offset, max(f.frames - 1, 0))
        skip_frames(f, offset)
        x = f.read(length)  # (channels, n)
    x = np.asarray(x, dtype=np.float32).mean(axis=0)
    if x.shape[0] < length:
        x = np.pad(x, (0, length - x.shape[0]))
    return x


class WindowDataset(Dataset):
    """Map-style dataset over global sample indices (any non-negative int; epochs wrap around).

    Item: dict with ``hr``, ``lr`` (1, L) float32 at the working level (peak of LR = input_peak),
    ``rolloff_in``, ``rolloff_out``, ``cutoff_hz`` (the band limit's, Hz), ``lr_keep``, ``cross_keep`` () float32,
    ``caption`` str, ``index`` int64.
    """

    def __init__(self, cfg: DataConfig, split: str = "train", files: list[Path] | None = None) -> None:
        if split not in ("train", "val"):
            raise ValueError(f"split must be 'train' or 'val', got {split!r}")
        self.cfg, self.split = cfg, split
        root = Path(cfg.root)
        if files is None:
            files = corpus_audio(root, cfg.file_list)
        if not files:
            raise ValueError(f"no audio files under {root} (extensions {AUDIO_EXTENSIONS})")
        clips = dict(zip(files, checked_clips(files, root)))  # every file, both splits: one error names them all
        want_val = split == "val"
        chosen = [p for p in files if is_validation(p.relative_to(root).as_posix(), cfg.val_fraction) == want_val]
        if not chosen and want_val:
            # tiny folders / val_fraction 0: validate on all files rather than on nothing (not on the last file
            # alone: it may be silent, and the silent-window skip only searches inside the split)
            chosen = list(files)
        if not chosen:
            raise ValueError(f"no {split} files under {root}")
        self.files = chosen
        self.windows: list[tuple[int, int]] = []
        self.lengths: list[int] = []
        L = cfg.window_samples
        for i, p in enumerate(chosen):
            frames, rate = clips[p]
            n = frames_at(frames, rate, cfg.sample_rate)  # as audio_frames
            self.lengths.append(n)
            for k in range(max(1, n // L)):
                self.windows.append((i, k * L))
        short = [p for p, n in zip(chosen, self.lengths) if n < L // 4]
        if short and split == "train":
            warnings.warn(f"{len(short)} of {len(chosen)} clips under {root} are shorter than a quarter of the "
                          f"{L / cfg.sample_rate:.2f} s window (e.g. {short[0].name}): their windows are mostly zero "
                          "padding", stacklevel=2)
        self.captions = CaptionStore(cfg.captions, root=root)
        if cfg.captions and split == "train" and not any(self.captions.key(p) in self.captions.table for p in chosen):
            warnings.warn(f"data.captions {cfg.captions} names none of the {len(chosen)} training clips under {root}: "
                          "every clip is captioned from its file name", stacklevel=2)
        self.silence = 10 ** (cfg.silence_db / 20)

    def __len__(self) -> int:
        return len(self.windows)

    def _window(self, index: int) -> int:
        n = len(self.windows)
        if self.split == "val":
            return index % n
        epoch, pos = divmod(index, n)
        return int(np.random.default_rng([self.cfg.seed, 7, epoch]).permutation(n)[pos])

    def __getitem__(self, index: int) -> dict[str, Any]:
        cfg, L = self.cfg, self.cfg.window_samples
        rng = np.random.default_rng([cfg.seed, 1 if self.split == "train" else 2, int(index)])
        w = self._window(int(index))
        for attempt in range(len(self.windows)):  # skip silent windows deterministically
            fi, off = self.windows[(w + attempt) % len(self.windows)]
            if self.split == "train":
                off = int(off + rng.integers(0, max(1, min(L, self.lengths[fi] - off - L + 1))))
            hr = read_window(self.files[fi], off, L, cfg.sample_rate)
            if np.abs(hr).max() >= self.silence:
                break
        else:
            raise ValueError(f"every window of the {self.split} split is silent (below {cfg.silence_db} dB)")
        d = training_pair(hr, rng, cfg.degrade, cfg.sample_rate)
        train = self.split == "train"
        lr_keep = float(rng.random() >= cfg.lr_dropout) if train else 1.0
        cross_keep = float(rng.random() >= cfg.cross_dropout) if train else 1.0
        return {
            "hr": torch.from_numpy(d.hr)[None], "lr": torch.from_numpy(d.lr)[None],
            "rolloff_in": torch.tensor(d.rolloff_in), "rolloff_out": torch.tensor(d.rolloff_out),
            "cutoff_hz": torch.tensor(float(d.spec.cutoff_hz), dtype=torch.float32),
            "target_tilted": torch.tensor(d.target_tilted),
            "lr_keep": torch.tensor(lr_keep), "cross_keep": torch.tensor(cross_keep),
            "caption": self.captions.get(self.files[fi]), "index": torch.tensor(int(index)),
        }


class StepBatchSampler(Sampler[list[int]]):
    """Batches of global sample indices for micro-batches ``start, start+1, ...`` on ``rank`` of ``world``.

    Micro-batch ``b`` on rank ``r`` holds indices ``((b * world + r) * batch_size + j)``: the data of step b does
    not depend on when the run was started or resumed."""

    def __init__(self, batch_size: int, num_batches: int, start: int = 0, rank: int = 0, world: int = 1,
                 wrap: int | None = None) -> None:
        self.batch_size, self.num_batches, self.start, self.rank, self.world = batch_size, num_batches, start, rank, world
        self.wrap = wrap  # validation: indices modulo the dataset length

    def __len__(self) -> int:
        return self.num_batches

    def __iter__(self) -> Iterator[list[int]]:
        for b in range(self.start, self.start + self.num_batches):
            base = (b * self.world + self.rank) * self.batch_size
            idx = [base + j for j in range(self.batch_size)]
            yield [i % self.wrap for i in idx] if self.wrap else idx


def collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack tensors; captions stay a list of str."""
    out: dict[str, Any] = {k: torch.stack([it[k] for it in items]) for k in items[0] if k != "caption"}
    out["caption"] = [it["caption"] for it in items]
    return out


def worker_init(worker_id: int) -> None:
    """Keep numpy/BLAS single-threaded per worker (determinism does not depend on it: see module doc)."""
    torch.set_num_threads(1)
