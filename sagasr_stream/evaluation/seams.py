"""The seam metric of a restore function over whole clips (at least three windows each)."""
from __future__ import annotations

from typing import Callable

import numpy as np


def seam_report(restore_fn: Callable[[np.ndarray, int, float], np.ndarray], clips: dict[str, np.ndarray],
                window: int, overlap: int, cutoff_hz: float = 8000.0) -> dict[str, float | int | None]:
    """Mean seam metric (dB; None when no clip is long enough) of restored, resample-degraded clips that hold
    at least 3 windows."""
    from ..chunking import WindowPlan
    from ..degradation import resample_through
    from .metrics import seam_energy_ratio_db

    plan = WindowPlan(window, overlap)
    values = []
    for clip in clips.values():
        if plan.n_windows(len(clip)) < 3:
            continue
        out = restore_fn(resample_through(clip, 44100, 2 * cutoff_hz).astype(np.float32), 44100, cutoff_hz)
        values.append(seam_energy_ratio_db(out, plan.seam_centres(len(out)), overlap, 44100, cutoff_hz))
    return {"seam_db_mean": float(np.mean(values)) if values else None, "seam_clips": len(values)}
