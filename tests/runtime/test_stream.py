import numpy as np
import pytest

from sagasr_stream import AudioInputError, AudioTypeError, RestoreSettings, StreamingRestorer, restore
from tests.conftest import band_limited_noise

SETTINGS = RestoreSettings(overlap=2048)


def stream_in_blocks(stream: StreamingRestorer, x: np.ndarray, sizes) -> np.ndarray:
    pieces, pos, total_in, total_out = [], 0, 0, 0
    sizes = iter(sizes)
    while pos < x.shape[-1]:
        n = next(sizes)
        out = stream.process(x[..., pos : pos + n])
        total_in += x[..., pos : pos + n].shape[-1]
        total_out += out.shape[-1]
        assert total_out == max(0, total_in - stream.latency_samples)  # fixed latency, exactly
        pieces.append(out)
        pos += n
    pieces.append(stream.flush())
    return np.concatenate(pieces, axis=-1)


def assert_streams_as_offline(model, settings, x: np.ndarray, **feature_off: object) -> None:
    """A feature of ``model``/``settings`` changes the offline result (against ``settings`` with ``feature_off``),
    and a stream in blocks of 1, 333 and 8192 samples gives that offline result."""
    offline = restore(x, 44100, model, settings)
    assert not np.array_equal(offline, restore(x, 44100, model, settings.with_(**feature_off)))
    for block in (1, 333, 8192):
        streamed = stream_in_blocks(StreamingRestorer(model, settings), x, iter(lambda: block, None))
        np.testing.assert_allclose(streamed, offline, atol=1e-5)


@pytest.fixture(scope="module")
def signal_and_offline(tiny_model):
    x = band_limited_noise(30000, seed=5)
    return x, restore(x, 44100, tiny_model, SETTINGS)


@pytest.mark.parametrize("block", [1, 7, 4096, 65536])
def test_stream_equals_offline_for_fixed_block_sizes(tiny_model, signal_and_offline, block):
    x, offline = signal_and_offline
    stream = StreamingRestorer(tiny_model, SETTINGS)
    y = stream_in_blocks(stream, x, iter(lambda: block, None))
    assert y.shape == x.shape
    np.testing.assert_allclose(y, offline, atol=1e-5)


def test_stream_equals_offline_for_random_block_sizes_and_multichannel(tiny_model):
    x = band_limited_noise(25000, seed=6, channels=2)
    offline = restore(x, 44100, tiny_model, SETTINGS)
    for seed in range(3):
        sizes = np.random.default_rng(seed).integers(1, 9000, 1000)
        stream = StreamingRestorer(tiny_model, SETTINGS, channels=2, windows_per_call=1 + seed)
        np.testing.assert_allclose(stream_in_blocks(stream, x, iter(sizes)), offline, atol=1e-5)


def test_latency_is_reported_and_fixed(tiny_model):
    stream = StreamingRestorer(tiny_model, SETTINGS)
    assert stream.latency_samples == tiny_model.manifest.window_samples - 1
    assert StreamingRestorer(tiny_model, SETTINGS, windows_per_call=2).latency_samples == 8191 + (8192 - 2048)


def test_reset_starts_a_new_stream(tiny_model, signal_and_offline):
    x, offline = signal_and_offline
    stream = StreamingRestorer(tiny_model, SETTINGS)
    stream.process(np.ones(5000, np.float32))
    stream.reset()
    y = np.concatenate([stream.process(x), stream.flush()])
    np.testing.assert_allclose(y, offline, atol=1e-5)
    # flush resets too: the same object restores the same signal again
    y2 = np.concatenate([stream.process(x), stream.flush()])
    np.testing.assert_array_equal(y, y2)


def test_stream_rejects_bad_blocks(tiny_model):
    stream = StreamingRestorer(tiny_model, SETTINGS, channels=2)
    with pytest.raises(AudioInputError, match="shape"):
        stream.process(np.zeros((3, 10), np.float32))
    with pytest.raises(AudioInputError, match="1-D"):
        stream.process(np.zeros(10, np.float32))
    with pytest.raises(AudioTypeError, match="int16"):
        stream.process(np.zeros((2, 10), np.int16))
    with pytest.raises(AudioInputError, match="NaN"):
        stream.process(np.full((2, 10), np.nan, np.float32))
    with pytest.raises(ValueError, match="channels"):
        StreamingRestorer(tiny_model, SETTINGS, channels=0)


def test_a_mono_stream_flushes_in_the_layout_of_its_blocks(tiny_model, signal_and_offline):
    """(1, n) blocks come back (1, m), and so does the tail (it came back 1-D: the pieces did not concatenate)."""
    x, offline = signal_and_offline
    stream = StreamingRestorer(tiny_model, SETTINGS)
    y = stream_in_blocks(stream, x[None], iter(lambda: 5000, None))
    assert y.shape == (1, x.size)
    np.testing.assert_allclose(y[0], offline, atol=1e-5)
    assert stream_in_blocks(stream, x, iter(lambda: 5000, None)).shape == x.shape  # 1-D blocks: 1-D again
    stream.process(x[None, :100])
    assert stream.flush(mono=True).shape == (100,) and StreamingRestorer(tiny_model, SETTINGS).flush().shape == (0,)
