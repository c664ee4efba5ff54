"""Seams: overlapping windows share their noise by absolute latent position, so the generated top band
does not dip where two windows cross-fade. Measured with the seam metric (high-band energy near seams vs
elsewhere), against the naive alternative of fresh noise per window."""
import numpy as np

import sagasr_stream.engine as engine
from sagasr_stream import RestoreSettings, restore
from sagasr_stream.chunking import WindowPlan
from sagasr_stream.evaluation.metrics import seam_energy_ratio_db
from sagasr_stream.sampler import latent_noise
from tests.conftest import band_limited_noise

CUTOFF = 4000.0
SETTINGS = RestoreSettings(overlap=2048, low_band="keep")


def seam_db(model, y):
    plan = WindowPlan(model.manifest.window_samples, SETTINGS.overlap)
    return seam_energy_ratio_db(y, plan.seam_centres(len(y)), plan.overlap, 44100, CUTOFF + 2000)  # above the kept band and its edge


def test_shared_noise_keeps_seams_invisible(tiny_model, monkeypatch):
    x = band_limited_noise(44100 * 3, cutoff_hz=CUTOFF, seed=9)
    shared = seam_db(tiny_model, restore(x, 44100, tiny_model, SETTINGS))

    counter = iter(range(10**6))

    def fresh_noise(seed, channel, start_frame, n_frames, channels):
        return latent_noise(seed + 1000 + next(counter), channel, 0, n_frames, channels)

    monkeypatch.setattr(engine, "latent_noise", fresh_noise)
    independent = seam_db(tiny_model, restore(x, 44100, tiny_model, SETTINGS))
    assert abs(shared) < 0.5  # dB
    assert independent < -0.75  # the dip a plain cross-fade of unrelated high bands makes (about -1 dB)
    assert abs(shared) < abs(independent) / 2


def test_seam_metric_sees_a_dip():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(44100 * 2)
    plan = WindowPlan(8192, 2048)
    seams = plan.seam_centres(len(x))
    y = x.copy()
    for s in seams:
        y[s - 512 : s + 512] *= 0.5
    assert abs(seam_energy_ratio_db(x, seams, 2048, 44100, 5000)) < 0.3
    assert seam_energy_ratio_db(y, seams, 2048, 44100, 5000) < -2
