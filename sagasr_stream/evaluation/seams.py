"""The seam metric of a restore function over whole clips (at least three windows each)."""
from __future__ import annotations

from typing import Callable

import numpy as np


def seam_report(restore_fn: Callable[[np.ndarray, int, float], np.ndarray], clips: dict[str, np.ndarray],
                window: int, overlap: int, cutoff_hz: float = 8000.0) -> dict[str, float | int | None]:
    """Mean seam metric (dB; None when no clip is long enough) of restored, resample-degraded clips that hold
    at least 3 windows, beside the same metric of the clips themselves at the same places: on music the
    band's own loudness moves the metric by several dB, so the seams show as the difference of the two
    (``seam_db_vs_reference``; 0 dB = seams invisible, negative = a dip at the seams)."""
    from ..chunking import WindowPlan
    from ..degradation import resample_through
    from .metrics import seam_energy_ratio_db

    plan = WindowPlan(window, overlap)
    values, references = [], []
    for clip in clips.values():
        if plan.n_windows(len(clip)) < 3:
            continue
        out = restore_fn(resample_through(clip, 44100, 2 * cutoff_hz).astype(np.float32), 44100, cutoff_hz)
        seams = plan.seam_centres(len(out))
        values.append(seam_energy_ratio_db(out, seams, overlap, 44100, cutoff_hz))
        references.append(seam_energy_ratio_db(np.asarray(clip, dtype=np.float32), seams, overlap, 44100, cutoff_hz))
    if not values:
        return {"seam_db_mean": None, "reference_seam_db_mean": None, "seam_db_vs_reference": None, "seam_clips": 0}
    mean, reference = float(np.mean(values)), float(np.mean(references))
    return {"seam_db_mean": mean, "reference_seam_db_mean": reference, "seam_db_vs_reference": mean - reference,
            "seam_clips": len(values)}
