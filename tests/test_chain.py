"""Chain: native pedalboard plugins and our effects in any order."""
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pedalboard
import pytest

from sagasr_stream.chain import Chain
from sagasr_stream.effect import BandwidthExtension
from tests.conftest import band_limited_noise

SR = 44100
N = 12000


def stages(model):
    """high-pass -> bandwidth extension -> compressor -> limiter -> bandwidth extension -> gain, delay."""
    return [
        pedalboard.HighpassFilter(60), BandwidthExtension(model), pedalboard.Compressor(-24, 4),
        pedalboard.Limiter(-1), BandwidthExtension(model), pedalboard.Gain(-3), pedalboard.Delay(0.01, 0.3, 0.3),
    ]


def one_by_one(plugins, x):
    for plugin in plugins:
        x = plugin.process(x, SR)
    return x


@pytest.mark.parametrize("layout", ["mono", "channels_first", "channels_last"])
def test_chain_equals_the_stages_one_by_one(tiny_model, layout):
    x = band_limited_noise(N, channels=2, seed=8)
    x = {"mono": x[0], "channels_first": x, "channels_last": np.ascontiguousarray(x.T)}[layout]
    chain = Chain(stages(tiny_model))
    assert [type(s).__name__ for s in chain.stages] == ["Pedalboard", "BandwidthExtension", "Pedalboard",
                                                        "BandwidthExtension", "Pedalboard"]
    y = chain(x, SR)
    assert y.shape == x.shape and y.dtype == np.float32
    np.testing.assert_array_equal(y, one_by_one(stages(tiny_model), x))
    assert chain.reported_latency_samples == 2 * (tiny_model.manifest.window_samples - 1)


def test_same_instance_twice_is_rejected(tiny_model):
    fx, gain = BandwidthExtension(tiny_model), pedalboard.Gain(1)
    with pytest.raises(ValueError, match="twice"):
        Chain([fx, pedalboard.Gain(0), fx])
    with pytest.raises(ValueError, match="twice"):
        Chain([gain, gain])
    with pytest.raises(TypeError, match="neither"):
        Chain([pedalboard.Gain(0), object()])


@pytest.mark.parametrize("block", [3, 777, 5000])
def test_streaming_chain_with_flush_equals_reset_true(tiny_model, block):
    x = band_limited_noise(N, channels=2, seed=9)
    expected = Chain(stages(tiny_model))(x, SR)
    chain = Chain(stages(tiny_model))
    outs, total_in, total_out = [], 0, 0
    for i in range(0, N, block):
        out = chain.process(x[:, i : i + block], SR, reset=False)
        total_in, total_out = total_in + x[:, i : i + block].shape[1], total_out + out.shape[1]
        assert out.shape[0] == 2 and total_out == max(0, total_in - chain.reported_latency_samples)
        outs.append(out)
    y = np.concatenate(outs + [chain.flush()], axis=1)
    assert y.shape == x.shape
    np.testing.assert_allclose(y, expected, atol=1e-5)
    # the chain is clear after flush: the same stream again gives the same result
    again = np.concatenate([chain.process(x, SR, reset=False), chain.flush()], axis=1)
    np.testing.assert_allclose(again, expected, atol=1e-5)


def test_chain_empty_and_square_buffers(tiny_model):
    chain = Chain(stages(tiny_model))
    for shape in [(0,), (0, 1), (1, 0)]:
        assert chain(np.zeros(shape, np.float32), SR).shape == shape
    with pytest.raises(ValueError, match="square"):
        chain(np.zeros((2, 2), np.float32), SR)
    with pytest.raises(TypeError):
        chain(np.zeros(100, np.int16), SR)


def test_chain_threads(tiny_model):
    signals = [band_limited_noise(N, seed=s) for s in range(3)]
    serial = [Chain(stages(tiny_model))(x, SR) for x in signals]
    with ThreadPoolExecutor(3) as pool:
        threaded = list(pool.map(lambda x: Chain(stages(tiny_model))(x, SR), signals))
    for a, b in zip(serial, threaded):
        np.testing.assert_array_equal(a, b)
    shared = Chain(stages(tiny_model))
    with ThreadPoolExecutor(3) as pool:
        results = [f.result(timeout=60) for f in [pool.submit(shared, signals[0], SR) for _ in range(4)]]
    for y in results:
        np.testing.assert_array_equal(y, serial[0])


@pytest.mark.parametrize("layout", ["mono", "channels_last"])
def test_streaming_chain_with_tiny_and_square_blocks(tiny_model, layout):
    """Blocks of 1 and 2 frames: (1, 2) and (2, 2) buffers are read with the cached stereo layout."""
    x = band_limited_noise(9000, channels=2, seed=10)
    x = x[0] if layout == "mono" else np.ascontiguousarray(x.T)
    expected = Chain(stages(tiny_model))(x, SR)
    chain = Chain(stages(tiny_model))
    sizes = [100] + [1, 2] * 3000
    outs, pos = [], 0
    for n in sizes:
        outs.append(chain.process(x[pos : pos + n], SR, reset=False))
        pos += n
    outs.append(chain.process(x[pos:], SR, reset=False))
    y = np.concatenate(outs + [chain.flush()])
    assert y.shape == x.shape
    np.testing.assert_allclose(y, expected, atol=1e-5)


def test_bad_input_is_rejected_before_any_stage_runs(tiny_model):
    """A rejected buffer leaves a stream intact; buffer_size=0 is an error (pedalboard would never return)."""
    x = band_limited_noise(N, channels=2, seed=9)
    expected = Chain(stages(tiny_model))(x, SR)
    chain = Chain(stages(tiny_model))
    first = chain.process(x[:, :6000], SR, reset=False)
    with pytest.raises(ValueError, match="44100 Hz.*48000 Hz"):
        chain.process(x[:, 6000:], 48000, reset=False)
    bad = x[:, 6000:].copy()
    bad[1, 5] = np.inf
    with pytest.raises(ValueError, match="NaN/Inf"):
        chain.process(bad, SR, reset=False)
    for size in (0, -1, 1.5):
        with pytest.raises(ValueError, match="buffer_size"):
            chain.process(x[:, 6000:], SR, buffer_size=size, reset=False)
    y = np.concatenate([first, chain.process(x[:, 6000:], SR, reset=False), chain.flush()], axis=1)
    np.testing.assert_allclose(y, expected, atol=1e-5)


def test_same_instance_inside_a_native_container_is_rejected(tiny_model):
    gain = pedalboard.Gain(1)
    with pytest.raises(ValueError, match="twice"):
        Chain([pedalboard.Pedalboard([pedalboard.Chain([gain])]), BandwidthExtension(tiny_model), gain])
    chain = Chain([pedalboard.Pedalboard([pedalboard.Gain(1)]), pedalboard.Gain(1)])  # equal, not the same: fine
    assert [type(s).__name__ for s in chain.stages] == ["Pedalboard"]


def test_a_chain_at_48_khz_equals_the_stages_one_by_one_and_keeps_its_rate_mid_stream(tiny_model):
    x = band_limited_noise(N, channels=2, seed=12)
    plugins = [pedalboard.HighpassFilter(60), BandwidthExtension(tiny_model), pedalboard.Gain(-3)]
    y = Chain(plugins)(x, 48000)
    expected = x
    for plugin in [pedalboard.HighpassFilter(60), BandwidthExtension(tiny_model), pedalboard.Gain(-3)]:
        expected = plugin.process(expected, 48000)
    np.testing.assert_array_equal(y, expected)
    chain = Chain(plugins)
    before = chain.latency_at(48000)
    chain.process(x[:, :6000], 48000, reset=False)
    assert before == chain.reported_latency_samples != Chain([BandwidthExtension(tiny_model)]).reported_latency_samples
    with pytest.raises(ValueError, match="48000 Hz stream is in progress; got 96000 Hz"):
        chain.process(x[:, 6000:], 96000, reset=False)
    with pytest.raises(ValueError, match="44100 Hz, or above; got 22050 Hz"):
        Chain(plugins).process(x, 22050)


def test_a_rate_a_nested_chain_refuses_is_refused_before_any_stage_runs(tiny_model):
    """A Chain inside a Chain is checked like an effect (its check_rate): a 16 kHz buffer that its
    BandwidthExtension refuses left the outer chain holding a "16000 Hz stream" (and its reverb's state advanced),
    so the next 44.1 kHz buffer was refused too."""
    x = band_limited_noise(N, channels=2, seed=13)
    expected = Chain([pedalboard.Reverb(), BandwidthExtension(tiny_model)])(x, SR)
    chain = Chain([pedalboard.Reverb(), Chain([BandwidthExtension(tiny_model)])])
    with pytest.raises(ValueError, match="44100 Hz, or above; got 16000 Hz"):
        chain.process(x, 16000, reset=False)
    y = np.concatenate([chain.process(x, SR, reset=False), chain.flush()], axis=1)
    np.testing.assert_allclose(y, expected, atol=1e-5)
    assert chain.check_rate(48000) == 48000  # as BandwidthExtension.check_rate: the rate as an int, or an error
