import numpy as np
import pytest

from sagasr_stream.chunking import OverlapAdd, SampleBuffer, WindowPlan
from sagasr_stream.engine import WindowJob
from sagasr_stream.processor import ChunkedProcessor


def identity(jobs: list[WindowJob]) -> list[np.ndarray]:
    return [job.audio for job in jobs]


def run(x: np.ndarray, plan: WindowPlan, per_call: int = 1, block: int | None = None) -> np.ndarray:
    proc = ChunkedProcessor(identity, plan, x.shape[0], per_call)
    block = block or x.shape[1] or 1
    pieces = [proc.push(x[:, i : i + block]) for i in range(0, x.shape[1], block)]
    return np.concatenate(pieces + [proc.finish()], axis=1)


@pytest.mark.parametrize("overlap", [0, 1, 256, 777, 1024, 2048])
@pytest.mark.parametrize("length", [1, 100, 4095, 4096, 4097, 9000, 20000])
def test_identity_model_gives_the_input_back(length, overlap):
    plan = WindowPlan(4096, overlap)
    x = np.random.default_rng(length).standard_normal((2, length)).astype(np.float32)
    y = run(x, plan)
    assert y.shape == x.shape
    np.testing.assert_allclose(y, x, atol=1e-6)


def test_identity_holds_for_any_block_size_and_grouping():
    plan = WindowPlan(4096, 1024)
    x = np.random.default_rng(0).standard_normal((1, 23456)).astype(np.float32)
    for block, per_call in [(1, 1), (7, 3), (5000, 2), (100000, 8)]:
        np.testing.assert_allclose(run(x, plan, per_call, block), x, atol=1e-6)


def test_fades_sum_to_one():
    plan = WindowPlan(4096, 1024)
    fade = plan.fade_in()
    np.testing.assert_allclose(fade + (1 - fade), 1.0, atol=0)
    assert fade[0] < 0.01 and fade[-1] > 0.99 and np.all(np.diff(fade) > 0)


def test_window_count_covers_the_signal():
    plan = WindowPlan(4096, 1024)
    for total in [1, 4096, 4097, 7168, 7169, 100000]:
        k = plan.n_windows(total)
        assert (k - 1) * plan.hop + plan.window >= total
        assert k == 1 or (k - 2) * plan.hop + plan.window < total


def test_invalid_plans_are_rejected():
    with pytest.raises(ValueError, match="overlap"):
        WindowPlan(4096, 3000)


def test_processor_output_is_never_ahead_of_input():
    plan = WindowPlan(4096, 1024)
    proc = ChunkedProcessor(identity, plan, 1, 1)
    total_in = total_out = 0
    for n in np.random.default_rng(3).integers(1, 3000, 40):
        total_in += n
        total_out += proc.push(np.zeros((1, n), np.float32)).shape[1]
        assert total_out <= total_in - (plan.window - plan.hop) or total_out == 0
        assert total_out >= total_in - proc.latency_samples
    assert total_out + proc.finish().shape[1] == total_in


def test_sample_buffer_reads_absolute_positions_and_pads():
    buf = SampleBuffer(1)
    buf.append(np.arange(10, dtype=np.float32)[None])
    buf.discard(4)
    np.testing.assert_array_equal(buf.read(2, 12)[0], [0, 0, 4, 5, 6, 7, 8, 9, 0, 0])
    buf.append(np.arange(10, 10000, dtype=np.float32)[None])
    assert buf.end == 10000 and buf.pop(3)[0].tolist() == [4, 5, 6]


def test_overlap_add_finish_cuts_to_length():
    ola = OverlapAdd(WindowPlan(8, 2), 1)
    assert ola.add(np.ones((1, 8), np.float32)).shape == (1, 6)
    assert ola.finish(7).shape == (1, 1)
