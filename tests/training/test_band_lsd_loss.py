"""The LSD-shaped loss of the one-step pairs (``band_lsd_weight``): the envelope's log-power error per MDCT frame over
the bands above each pair's cutoff, counted by its root mean square as LSD counts a frame."""
from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from sagasr_training.data import DataConfig, WindowDataset, collate
from sagasr_training.objectives import one_step_band_lsd

WIDTH = torch.tensor([1.0, 1.0, 2.0])  # K = 3 bands, S = 2 stacked frames: channels s * 3 + k
ONES = torch.ones(6)


def _loss(error: torch.Tensor, t: torch.Tensor, above: torch.Tensor, floor: float = 1.0) -> float | None:
    out = one_step_band_lsd(error, torch.zeros_like(error), t, above, WIDTH, ONES, floor)
    return None if out is None else float(out)


def test_each_frame_counts_by_the_root_mean_square_of_its_bands_above_the_cutoff() -> None:
    error = torch.zeros(1, 6, 2)
    error[0, 2, :] = 2.0  # band 2 of the first stacked frame, both latent frames
    above = torch.tensor([[False, True, True]])
    one = torch.ones(1)
    # frames of stack 0: (1 * 0 + 2 * 4) / 3; frames of stack 1: 0 -> mean of sqrt(mse + 1) - 1 over 4 frames
    expected = (2 * (math.sqrt(8 / 3 + 1) - 1) + 2 * 0.0) / 4
    assert _loss(error, one, above) == pytest.approx(expected, rel=1e-6)
    error[0, 0, :] = 50.0  # band 0 lies under the cutoff: the runtime keeps the input there
    assert _loss(error, one, above) == pytest.approx(expected, rel=1e-6)
    assert _loss(torch.zeros(1, 6, 2), one, above) == 0.0


def test_a_frame_far_off_counts_by_its_size_not_its_square() -> None:
    above, one = torch.ones(1, 3, dtype=torch.bool), torch.ones(1)
    small, large, larger = (_loss(torch.full((1, 6, 4), e), one, above, floor=0.1) for e in (1.0, 10.0, 20.0))
    assert larger / large == pytest.approx(2.0, rel=0.01)  # the squared loss would grow 4x
    assert large / small < 11.0  # 10x the error: about 10x the loss (the squared loss: 100x)


def test_only_pairs_at_t_1_with_a_band_above_their_cutoff_count() -> None:
    error = torch.ones(3, 6, 2)
    error[1] *= 5.0
    t = torch.tensor([1.0, 0.999, 1.0])
    above = torch.tensor([[True, True, True], [True, True, True], [False, False, False]])
    assert _loss(error, t, above) == pytest.approx(math.sqrt(2) - 1, rel=1e-6)  # pair 0 alone
    assert _loss(error, torch.full((3,), 0.5), above) is None
    assert _loss(error, torch.ones(3), torch.zeros(3, 3, dtype=torch.bool)) is None


def test_the_latent_scale_turns_latent_units_into_log_power() -> None:
    error, above, one = torch.full((1, 6, 2), 0.5), torch.ones(1, 3, dtype=torch.bool), torch.ones(1)
    scaled = one_step_band_lsd(error, torch.zeros_like(error), one, above, WIDTH, torch.full((6,), 4.0), 1.0)
    assert float(scaled) == pytest.approx(math.sqrt(4.0 + 1.0) - 1.0, rel=1e-6)  # 0.5 latent units = 2 nepers


def test_the_module_adds_the_weighted_term_and_refuses_it_without_log_band_powers(audio_dir: Path) -> None:
    from sagasr_export.model import build_model, load_config, named_config

    from sagasr_training.lightning_module import DiffusionModule
    from tests.export.test_mdct import mdct_config

    ds = WindowDataset(DataConfig(root=str(audio_dir), val_fraction=0.0, window_samples=8192).validate())
    batch = collate([ds[i] for i in range(3)])
    torch.manual_seed(0)
    model = build_model(load_config(mdct_config(window=8192))).eval()
    opt = dict(lr=1e-3, betas=(0.9, 0.999), weight_decay=0.0, inv_gamma=1e6, power=0.5, warmup=0.0,
               ema_decay=0.9, seed=0, save_every=0, run_dir="unused", time_one_fraction=1.0)
    with torch.no_grad():
        plain, weighted = (DiffusionModule(model, {**opt, "band_lsd_weight": w}).loss(
            batch, torch.Generator().manual_seed(3)) for w in (0.0, 2.0))
    assert float(plain["band_lsd"]) == float(weighted["band_lsd"]) > 0
    assert float(weighted["loss"]) == pytest.approx(float(plain["loss"]) + 2.0 * float(plain["band_lsd"]), rel=1e-6)
    assert float(weighted["generated"]) == float(plain["generated"])
    with torch.no_grad():
        noisy = DiffusionModule(model, {**opt, "time_one_fraction": 0.0}).loss(batch, torch.Generator().manual_seed(3))
    assert "band_lsd" not in noisy  # no pair at t = 1
    with pytest.raises(ValueError, match="mdct-env"):
        DiffusionModule(build_model(named_config("tiny")), {**opt, "band_lsd_weight": 1.0})
