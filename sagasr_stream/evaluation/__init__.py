"""Evaluation: quality metrics (LSD, LSD-HF, envelope correlation, seam energy), the DSP baselines (SBR, noise
fill), VAE-only, fixed tuning/test splits, guidance and steps studies, and reports.

``evaluate`` (runner.py) degrades reference clips, runs a restore function beside the baselines and writes
report.json, report.md and spectrogram PNGs; ``sagasr eval`` (cli.py) drives it for a bundle.
"""
from .baseline import noise_fill, sbr_extend
from .metrics import envelope_correlation, log_spectral_distance, lsd, lsd_hf, quality, seam_energy_ratio_db
from ..degradation import degrade
from .runner import evaluate
from .splits import select_split, split_of

__all__ = ["degrade", "envelope_correlation", "evaluate", "log_spectral_distance", "lsd", "lsd_hf", "noise_fill",
           "quality", "sbr_extend", "seam_energy_ratio_db", "select_split", "split_of"]
