"""Training pairs made on the training device from audio held in memory.

For a model whose VAE is analytic (``vae.kind == "mdct"``) encoding costs nothing, so the pipeline's cost is
reading and degrading audio. A :class:`PairBank` reads every training clip once, band-limits each clip
``versions`` times with the SPEC recipe (:func:`sagasr_training.degrade.degrade_clip`, in a process pool),
keeps everything as tensors on the device and cuts random windows from them: a batch of 64 windows is a few
gathers and FFTs on a GPU instead of 128 file reads and low-passes on CPU workers.

Batches come in the :class:`~sagasr_training.data.WindowDataset` format (``hr``/``lr`` audio at the working
level plus conditions) with precomputed ``text_tokens`` (``sagasr-train text-tokens``), so the frozen text
encoder never runs during training. Determinism: batch contents depend on ``(seed, first global index)`` only.
"""
from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch.utils.data import Dataset

from sagasr_stream.files import atomic_path

from .audio_files import checked_clips, corpus_audio
from .captions import CaptionStore, caption_variants
from .data import DataConfig, listed_audio, read_window, audio_frames
from .degrade import DegradeConfig, apply_gain_db, brightness_slopes, degrade_clip, pair_gains_db, tilt_slopes

TOKENS_FORMAT = "sagasr-text-tokens/1"


def write_text_tokens(model: Any, data: DataConfig, out: str | Path) -> Path:
    """Encode the caption of every file of ``data`` (root, file_list, captions) with the model's frozen text
    encoder -> safetensors ``out``: ``tokens`` (N, S, D) float16 and metadata ``paths`` (JSON list, relative
    to root, the row order). With ``data.caption_variants``: every phrasing of each caption
    (:func:`~sagasr_training.captions.caption_variants`), ``tokens`` (N, V, S, D) (rows past a file's own
    count repeat its caption) and ``counts`` (N,) int64, the number of phrasings per file."""
    import json

    root = Path(data.root)
    files = corpus_audio(root, data.file_list)
    if not files:
        raise ValueError(f"no audio files {'in ' + str(data.file_list) if data.file_list else 'under ' + str(root)}")
    store = CaptionStore(data.captions, root=root)
    captions = [store.get(p) for p in files]
    phrasings = [caption_variants(c) if data.caption_variants else [c] for c in captions]
    width = max(len(v) for v in phrasings)
    flat = [v[k] if k < len(v) else v[0] for v in phrasings for k in range(width)]
    rows = []
    for s in range(0, len(flat), 32):
        ids, mask = model.tokenize(flat[s:s + 32])
        rows.append(model.encode_text(ids, mask).half())
    tokens = torch.cat(rows)
    if data.caption_variants:
        tensors = {"tokens": tokens.reshape(len(files), width, *tokens.shape[1:]).contiguous(),
                   "counts": torch.tensor([len(v) for v in phrasings], dtype=torch.int64)}
    else:
        tensors = {"tokens": tokens.contiguous()}
    with atomic_path(out) as tmp:
        save_file(tensors, str(tmp), metadata={
            "format": TOKENS_FORMAT, "paths": json.dumps([p.relative_to(root).as_posix() for p in files]),
            "captions": json.dumps(phrasings if data.caption_variants else captions)})
    return Path(out)


def listed_token_rows(root: Path, file_list: str | Path, token_paths: list[str], tokens_file: str) -> tuple[list[str], list[int]]:
    """The files ``file_list`` names (paths relative to ``root``, in its order) and their rows in a text-token
    file whose row order is ``token_paths``; a listed file without tokens is an error naming it."""
    index = {p: i for i, p in enumerate(token_paths)}
    wanted = [p.relative_to(root).as_posix() for p in listed_audio(root, file_list)]
    missing = [p for p in wanted if p not in index]
    if missing:
        raise ValueError(f"{tokens_file} has no tokens for {len(missing)} file(s) of {file_list} (first: {missing[0]}); "
                         "encode them with `sagasr-train text-tokens` and the same file list")
    return wanted, [index[p] for p in wanted]


def _clip_versions(args: tuple[str, int, int, int, int, DegradeConfig]) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """Read one clip (mono, at ``rate``) and band-limit it ``versions`` times -> (HR (n,), LR (versions, n),
    cutoffs in Hz). Draw ``j`` of clip ``i`` is seeded by ``(seed, 11, i, j)``."""
    path, rate, seed, versions, i, cfg = args
    hr = read_window(Path(path), 0, audio_frames(Path(path), rate), rate)
    lrs, cutoffs = [], []
    for j in range(versions):
        lr, spec = degrade_clip(hr, np.random.default_rng([seed, 11, i, j]), cfg, rate)
        lrs.append(lr)
        cutoffs.append(spec.cutoff_hz)
    return hr, np.stack(lrs), cutoffs


class PairBank(Dataset):
    """Global sample index -> one training item; ``__getitems__`` makes a whole batch on ``device`` at once.

    The clips: those ``data.file_list`` names, with their rows of the text-token file (:func:`listed_token_rows`),
    or without a file list every file of the token file. ``versions`` band-limited copies of each clip are drawn
    once (seeded by ``(seed, clip, version)``).
    A batch draws clip, version and offset per item, scales HR and LR by ``input_peak / peak(LR)`` (as the
    runtime does per window), tilts the target's band above the cutoff for a share of the items
    (``degrade.target_tilt_fraction``), makes input and target alike brighter or darker for a share
    (``degrade.brightness_fraction``) and measures both roll-offs (SPEC definition) on the device.
    """

    def __init__(self, cfg: DataConfig, versions: int, device: str | torch.device = "cpu", split: str = "train",
                 workers: int = 1) -> None:
        import json

        if versions <= 0:
            raise ValueError(f"pair bank versions must be positive, got {versions}")
        if cfg.text_tokens is None:
            raise ValueError("a pair bank needs data.text_tokens (sagasr-train text-tokens)")
        self.cfg, self.split, self.device = cfg, split, torch.device(device)
        with safe_open(str(cfg.text_tokens), "pt") as f:
            meta = f.metadata() or {}
            if meta.get("format") != TOKENS_FORMAT or "tokens" not in f.keys():
                raise ValueError(f"{cfg.text_tokens} is not a text-token file ({TOKENS_FORMAT})")
            tokens = f.get_tensor("tokens")
            counts = f.get_tensor("counts") if "counts" in f.keys() else None
        paths = json.loads(meta["paths"])
        root = Path(cfg.root)
        if cfg.file_list:
            paths, rows = listed_token_rows(root, cfg.file_list, paths, str(cfg.text_tokens))
            tokens = tokens[rows]
            counts = counts[rows] if counts is not None else None
        checked_clips([root / p for p in paths], root)  # one error naming every damaged clip, before decoding
        rate = cfg.sample_rate
        jobs = [(str(root / p), rate, cfg.seed, versions, i, cfg.degrade) for i, p in enumerate(paths)]
        with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
            clips = list(pool.map(_clip_versions, jobs))
        # at least one window long: a clip shorter than a window is zero-padded, as WindowDataset pads it
        n, longest = len(clips), max([cfg.window_samples, *(len(c[0]) for c in clips)])
        hr = np.zeros((n, longest), np.float32)
        lr = np.zeros((n, versions, longest), np.float32)
        for i, (h, l, _) in enumerate(clips):
            hr[i, : len(h)] = h
            lr[i, :, : len(h)] = l
        self.hr = torch.from_numpy(hr).to(self.device)
        self.lr = torch.from_numpy(lr).to(self.device)
        self.cutoff_hz = np.array([c[2] for c in clips])
        self.lengths = np.array([len(c[0]) for c in clips])
        if tokens.dim() == 3:  # one phrasing per clip
            tokens, counts = tokens[:, None], None
        if counts is None:
            counts = torch.ones(tokens.shape[0], dtype=torch.int64)
        if len(counts) != n or tokens.shape[0] != n or int(counts.min()) < 1 or int(counts.max()) > tokens.shape[1]:
            raise ValueError(f"{cfg.text_tokens}: tokens {tuple(tokens.shape)} / counts do not fit {n} clips")
        self.tokens = tokens.to(self.device)  # (clips, phrasings, S, D)
        self.phrasings = counts.numpy()
        self.versions = versions

    def __len__(self) -> int:
        return int(self.lengths.sum() // self.cfg.window_samples) * self.versions

    def __getitem__(self, index: int) -> dict[str, Any]:
        return {k: v[0] for k, v in self.__getitems__([index]).items()}

    def __getitems__(self, indices: list[int]) -> dict[str, Any]:
        cfg, L, b = self.cfg, self.cfg.window_samples, len(indices)
        rng = np.random.default_rng([cfg.seed, 5 if self.split == "train" else 6, int(indices[0]), b])
        weights = np.maximum(self.lengths - L, 1) / np.maximum(self.lengths - L, 1).sum()
        clip = rng.choice(len(self.lengths), size=b, p=weights)
        version = rng.integers(0, self.versions, size=b)
        offset = (rng.random(b) * np.maximum(self.lengths[clip] - L, 1)).astype(np.int64)
        dev = self.device
        pos = torch.from_numpy(offset).to(dev)[:, None] + torch.arange(L, device=dev)[None, :]
        c_t, v_t = torch.from_numpy(clip).to(dev), torch.from_numpy(version).to(dev)
        hr = self.hr[c_t[:, None], pos]
        lr = self.lr[c_t[:, None], v_t[:, None], pos]
        cutoff = self.cutoff_hz[clip, version]

        def column(values: np.ndarray | None) -> torch.Tensor | None:
            return None if values is None else torch.from_numpy(values).to(dev, torch.float32)[:, None]

        freqs = torch.fft.rfftfreq(L, 1.0 / cfg.sample_rate, device=dev)[None, :]
        slopes, rises = tilt_slopes(rng, b, cfg.degrade), brightness_slopes(rng, b, cfg.degrade)
        lr_db, hr_db = pair_gains_db(freqs, column(cutoff), column(slopes), column(rises),
                                     cfg.degrade.brightness_pivot_hz, xp=torch,
                                     limit_db=cfg.degrade.brightness_limit_db)
        if lr_db is not None:
            lr = apply_gain_db(lr, lr_db, xp=torch)
        if hr_db is not None:
            hr = apply_gain_db(hr, hr_db, xp=torch)
        peak = lr.abs().amax(dim=-1, keepdim=True)
        gain = torch.where(peak >= 1e-6, cfg.degrade.input_peak / peak.clamp_min(1e-6), torch.ones_like(peak))
        hr, lr = hr * gain, lr * gain
        train = self.split == "train"

        def keep(dropout: float) -> torch.Tensor:  # 1 = condition kept; validation keeps every condition
            flags = (rng.random(b) >= dropout) if train else np.ones(b, dtype=bool)
            return torch.from_numpy(flags.astype(np.float32)).to(dev)

        return {
            "hr": hr[:, None, :], "lr": lr[:, None, :],
            "rolloff_in": rolloff_ratio_torch(lr), "rolloff_out": rolloff_ratio_torch(hr),
            "cutoff_hz": torch.from_numpy(cutoff.astype(np.float32)).to(dev),
            "target_tilted": torch.from_numpy(slopes != 0 if slopes is not None else np.zeros(b, bool)).to(dev),
            "text_tokens": self.tokens[c_t, torch.from_numpy(self._phrasing(clip, indices)).to(dev)].float(),
            "lr_keep": keep(cfg.lr_dropout), "cross_keep": keep(cfg.cross_dropout),
            "index": torch.as_tensor(np.asarray(indices, dtype=np.int64)),
        }

    def _phrasing(self, clip: np.ndarray, indices: list[int]) -> np.ndarray:
        """Which phrasing of its clip's caption each item gets: uniform over the clip's phrasings, from a
        generator of its own (the other draws of a batch do not depend on how many phrasings there are)."""
        rng = np.random.default_rng([self.cfg.seed, 8, int(indices[0]), len(indices)])
        return (rng.random(len(clip)) * self.phrasings[clip]).astype(np.int64)


def rolloff_ratio_torch(x: torch.Tensor, n_fft: int = 2048, hop: int = 512, percentile: float = 0.985) -> torch.Tensor:
    """:func:`sagasr_stream.dsp.rolloff_ratio` in torch (same centred, zero-padded, periodic-Hann STFT):
    (B, samples) -> (B,) float32 ratios in [0, 1]; silence gives 0."""
    window = torch.hann_window(n_fft, periodic=True, device=x.device, dtype=torch.float32)
    spec = torch.stft(x.float(), n_fft, hop, window=window, center=True, pad_mode="constant", return_complex=True)
    magnitude = spec.abs().double().sum(dim=-1)
    cumulative = torch.cumsum(magnitude, dim=-1)
    total = cumulative[:, -1:]
    index = torch.argmax((cumulative >= percentile * total).to(torch.int8), dim=-1)
    index = torch.where(total[:, 0] > 0, index, torch.zeros_like(index))
    return (index.float() / (n_fft // 2 + 1)).float()


def identity_collate(batch: Any) -> Any:
    """DataLoader collate for datasets whose ``__getitems__`` already returns a batch."""
    return batch
