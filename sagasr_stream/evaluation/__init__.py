"""Evaluation: quality metrics (LSD, LSD-HF, seam energy), the SBR DSP baseline and reports.

``evaluate`` (runner.py) degrades reference clips, runs a restore function and writes report.json,
report.md and spectrogram PNGs.
"""
from .baseline import sbr_extend
from .metrics import log_spectral_distance, lsd, lsd_hf, seam_energy_ratio_db
from .runner import degrade, evaluate

__all__ = ["degrade", "evaluate", "log_spectral_distance", "lsd", "lsd_hf", "sbr_extend", "seam_energy_ratio_db"]
