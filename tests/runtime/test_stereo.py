"""Stereo modes (issue 16): identical, panned and opposite channels, channel counts, block-size invariance."""
import numpy as np
import pytest

from sagasr_stream import RestoreSettings, SettingsError, StreamingRestorer, restore
from sagasr_stream.dsp import stft
from sagasr_stream.settings import resolve
from sagasr_stream.stereo import channel_groups, octave_relation, signals_per_window
from tests.conftest import band_limited_noise
from tests.runtime.test_stream import stream_in_blocks

MODES = ["linked", "mid-side", "independent", "mono"]
JOINT = ["linked", "mid-side", "mono"]  # every mode but independent
N = 20000
EDGE_HZ = 6000.0


def run(x, model, mode, **kw):
    return restore(x, 44100, model, RestoreSettings(stereo=mode, **kw), layout="channels_first" if x.ndim == 2 else None)


def band(x):
    """(channels, samples) -> (channels, bins, frames): the STFT above the test material's 6 kHz cutoff."""
    spec = stft(np.asarray(x, dtype=np.float64))
    return spec[..., int(1.15 * EDGE_HZ / (44100 / 2048)) :, 4:-4]


def band_power_db(x):
    return 10 * np.log10((np.abs(band(x)) ** 2).sum(axis=(-2, -1)))


def band_coherence(x):
    """Mean per-frame |<L, R>| / (|L| |R|) of the top band."""
    spec = band(x)
    cross = np.abs((spec[0] * np.conj(spec[1])).sum(axis=0))
    norm = np.sqrt((np.abs(spec[0]) ** 2).sum(axis=0) * (np.abs(spec[1]) ** 2).sum(axis=0))
    return float(np.mean(cross / norm))


@pytest.fixture(scope="module")
def x():
    return band_limited_noise(N, cutoff_hz=EDGE_HZ, seed=1)


@pytest.fixture(scope="module")
def mono_result(tiny_model, x):
    return run(x, tiny_model, "independent")


@pytest.mark.parametrize("mode", JOINT)
def test_identical_channels_come_out_identical_and_equal_to_mono(tiny_model, x, mono_result, mode):
    y = run(np.stack([x, x]), tiny_model, mode)
    assert np.array_equal(y[0], y[1])
    assert np.array_equal(y[0], mono_result)


def test_independent_channels_get_their_own_noise(tiny_model, x, mono_result):
    y = run(np.stack([x, x]), tiny_model, "independent")
    assert np.array_equal(y[0], mono_result) and not np.array_equal(y[0], y[1])


@pytest.mark.parametrize("mode", ["linked", "mid-side"])
def test_opposite_channels_come_out_opposite(tiny_model, x, mono_result, mode):
    y = run(np.stack([x, -x]), tiny_model, mode)
    assert np.array_equal(y[1], -y[0])
    assert np.array_equal(y[0], mono_result)


def test_mono_mode_writes_the_downmix_to_every_channel(tiny_model, x):
    other = band_limited_noise(N, cutoff_hz=EDGE_HZ, seed=2)
    y = run(np.stack([x, other, x]), tiny_model, "mono")
    assert y.shape == (3, N) and np.array_equal(y[0], y[1]) and np.array_equal(y[0], y[2])
    downmix = (x + other + x).astype(np.float32) / np.float32(3)
    np.testing.assert_allclose(y[0], run(downmix, tiny_model, "independent"), atol=1e-6)
    assert not run(np.stack([x, -x]), tiny_model, "mono").any()  # opposite channels cancel in a downmix


@pytest.mark.parametrize("mode", ["linked", "mid-side"])
@pytest.mark.parametrize("side", ["left", "right"])
def test_hard_panned_source_keeps_its_pan(tiny_model, x, mono_result, mode, side):
    """Mid-side panned hard right used to put the whole band into the silent left channel (a shaped-noise band
    does not change sign with its input: L = M + S got both bands, R = M - S none)."""
    y = run(np.stack([x, np.zeros_like(x)]), tiny_model, mode)
    if side == "right":
        y = run(np.stack([np.zeros_like(x), x]), tiny_model, mode)[::-1]
    assert np.abs(y[1]).max() < 1e-6 * np.abs(y[0]).max()  # the silent channel stays silent
    # the sounding channel gets the band a mono restore gives it (same level within 0.5 dB)
    assert abs(band_power_db(y[:1])[0] - band_power_db(mono_result[None])[0]) < 0.5
    low = int(0.8 * EDGE_HZ / (44100 / 2048))  # the low band: as a mono restore keeps it
    np.testing.assert_allclose(stft(y[0])[:low, 2:-2], stft(mono_result)[:low, 2:-2], atol=1e-4)


@pytest.mark.parametrize("mode", ["linked", "mid-side"])
def test_a_digitally_silent_channel_stays_digitally_silent(tiny_model, x, mode, tmp_path):
    """A transfer with one dead channel (all zeros): the linked band gave it ~1e-9 (beta's rounding), so a 16-bit
    output dithered it into +-1 LSB noise on 18-20 % of its samples, where the input was digital silence."""
    from pedalboard.io import AudioFile

    from sagasr_stream import restore_file

    pair = np.stack([x, np.zeros_like(x)])
    for order in (1, -1):
        y = run(pair[::order], tiny_model, mode)[::order]
        assert not y[1].any() and y[0].any()
    with AudioFile(str(tmp_path / "in.wav"), "w", 44100, 2, bit_depth=16) as f:
        f.write(pair)
    restore_file(tmp_path / "in.wav", tmp_path / "out.flac", tiny_model, RestoreSettings(stereo=mode), bit_depth=16)
    with AudioFile(str(tmp_path / "out.flac")) as f:
        assert not f.read(f.frames)[1].any()


def test_linked_band_keeps_the_level_difference_below_the_edge(tiny_model, x):
    noise = band_limited_noise(N, cutoff_hz=EDGE_HZ, seed=3)
    for gain_db in (-12.0, -3.0):
        right = (10 ** (gain_db / 20) * x).astype(np.float32)
        y = run(np.stack([x, right]), tiny_model, "linked")
        left_db, right_db = band_power_db(y)
        assert abs((right_db - left_db) - gain_db) < 0.5
        assert band_coherence(y) > 0.95  # a panned source: one coherent band
    wide = run(np.stack([x, noise]), tiny_model, "linked")  # two unrelated signals: a wide band
    left_db, right_db = band_power_db(wide)
    assert abs(left_db - right_db) < 1.5 and band_coherence(wide) < 0.35


def test_mid_side_gives_a_wide_pair_balanced_bands(tiny_model, x):
    """Mid and side restored with one noise gave the left channel their coherent sum and the right their difference:
    8-10 dB more band on channel 0 whichever way the channels came in."""
    noise = band_limited_noise(N, cutoff_hz=EDGE_HZ, seed=3)
    for pair in (np.stack([x, noise]), np.stack([noise, x])):
        left_db, right_db = band_power_db(run(pair, tiny_model, "mid-side"))
        assert abs(left_db - right_db) < 3.0  # the untrained tiny model: 2.1 dB (before: 25-37 dB); default model below


def test_octave_relation_regression_and_remainder():
    rng = np.random.default_rng(0)
    ref = rng.standard_normal((1025, 20)) + 1j * rng.standard_normal((1025, 20))
    unrelated = rng.standard_normal((1025, 20)) + 1j * rng.standard_normal((1025, 20))
    beta, rho = octave_relation(ref, -0.5 * ref, 400)
    np.testing.assert_allclose(beta, -0.5) and np.testing.assert_allclose(rho, 0.0, atol=1e-6)
    beta, rho = octave_relation(ref, 2.0 * unrelated, 400)
    assert np.abs(beta).max() < 0.3 and np.all(np.abs(rho - 2.0) < 0.3)
    beta, rho = octave_relation(np.zeros_like(ref), unrelated, 400)  # a silent reference: nothing to follow
    assert not beta.any() and not rho.any()


@pytest.mark.parametrize("mode", MODES)
def test_one_channel_is_the_mono_result_in_every_mode(tiny_model, x, mono_result, mode):
    assert np.array_equal(run(x, tiny_model, mode), mono_result)
    assert np.array_equal(run(x[None], tiny_model, mode)[0], mono_result)


def test_six_channels_are_three_linked_pairs(tiny_model, x):
    channels = np.stack([band_limited_noise(N, cutoff_hz=EDGE_HZ, seed=10 + c) for c in range(6)])
    channels[3] = channels[2]
    y = run(channels, tiny_model, "linked")
    assert channel_groups(6, "linked") == [(0, 1), (2, 3), (4, 5)] and signals_per_window(6, "linked") == 3
    assert np.array_equal(y[2], y[3])
    np.testing.assert_array_equal(y[:2], run(channels[:2], tiny_model, "linked"))  # pair (0, 1) as a stereo file
    odd = run(channels[:5], tiny_model, "linked")  # an odd last channel is restored alone
    np.testing.assert_array_equal(odd[4], run(channels[:5], tiny_model, "independent")[4])


@pytest.mark.parametrize("mode", MODES)
def test_stream_equals_offline_for_any_block_size(tiny_model, mode):
    x3 = np.stack([band_limited_noise(25000, seed=6 + c) for c in range(3)])
    x3[1] = 0.5 * x3[0] + 0.2 * x3[1]
    settings = RestoreSettings(overlap=2048, stereo=mode)
    offline = restore(x3, 44100, tiny_model, settings)
    for seed in range(2):
        sizes = np.random.default_rng(seed).integers(1, 9000, 1000)
        stream = StreamingRestorer(tiny_model, settings, channels=3, windows_per_call=1 + seed)
        np.testing.assert_allclose(stream_in_blocks(stream, x3, iter(sizes)), offline, atol=1e-5)


def test_batch_size_does_not_change_the_result(tiny_model):
    x2 = np.stack([band_limited_noise(25000, seed=6 + c) for c in range(2)])
    results = [restore(x2, 44100, tiny_model, RestoreSettings(batch_size=b, stereo="mid-side")) for b in (1, 5)]
    np.testing.assert_allclose(results[0], results[1], atol=1e-5)


def test_bad_stereo_mode_is_a_settings_error(tiny_model):
    with pytest.raises(SettingsError, match="stereo must be one of 'linked', 'mid-side'"):
        resolve(RestoreSettings(stereo="surround"), tiny_model.manifest)  # type: ignore[arg-type]
    assert resolve(RestoreSettings(), tiny_model.manifest).stereo == "linked"


def test_cli_stereo_flag(tiny_bundle, tmp_path):
    from pedalboard.io import AudioFile

    from sagasr_stream.cli import main

    stereo = np.stack([band_limited_noise(N, cutoff_hz=EDGE_HZ, seed=c) for c in (1, 2)])
    with AudioFile(str(tmp_path / "in.wav"), "w", 44100, 2, bit_depth=32) as f:
        f.write(stereo)
    for mode in ("mono", "independent"):
        out = tmp_path / f"{mode}.wav"
        assert main(["restore", str(tmp_path / "in.wav"), "-o", str(out), "--model", str(tiny_bundle), "-q", "--stereo", mode]) == 0
        with AudioFile(str(out)) as f:
            y = f.read(f.frames)
        assert y.shape == (2, N) and np.array_equal(y[0], y[1]) == (mode == "mono")
    with pytest.raises(SystemExit):  # argparse: invalid choice
        main(["restore", str(tmp_path / "in.wav"), "--stereo", "wide"])


def test_hard_pan_of_a_high_passed_source_stays_silent(tiny_model, x):
    from scipy import signal

    high = signal.sosfiltfilt(signal.butter(8, 1000, "high", fs=44100, output="sos"), x).astype(np.float32)
    y = run(np.stack([high, np.zeros_like(high)]), tiny_model, "linked")  # nothing near 0 Hz: a silent channel's
    assert np.abs(y[1]).max() < 1e-6 * np.abs(y[0]).max()  # edge (0) must not pick the octave


def test_every_path_gets_the_stereo_mode_from_the_restorer(tiny_model, x):
    """The mode is applied in the Restorer's window function: restore, the effect (offline and streaming), the
    chain and upsample all give "mono"'s identical channels, and the effect and chain equal restore exactly."""
    from sagasr_stream import BandwidthExtension, Chain, Restorer, upsample
    from sagasr_stream.engine import WindowRestorer
    from sagasr_stream.stereo import StereoWindows

    pair = np.stack([x, 0.5 * np.roll(x, 7)]).astype(np.float32)  # two different channels
    restorer = Restorer(tiny_model, RestoreSettings(stereo="mono"))
    offline = restore(pair, 44100, restorer)
    assert np.array_equal(offline[0], offline[1]) and offline[0].any()
    assert np.array_equal(BandwidthExtension(restorer)(pair, 44100), offline)
    assert np.array_equal(Chain([BandwidthExtension(restorer)])(pair, 44100), offline)
    effect = BandwidthExtension(restorer)
    streamed = np.concatenate([effect(pair, 44100, buffer_size=4096, reset=False), effect.flush()], axis=1)
    np.testing.assert_allclose(streamed, offline, atol=1e-5)
    up = upsample(pair[:, ::2].copy(), 22050, restorer)
    assert up.shape == (2, 2 * (N // 2)) and np.array_equal(up[0], up[1])
    assert isinstance(restorer.window_fn(channels=2), StereoWindows)
    for one_by_one in (restorer.window_fn(channels=1), Restorer(tiny_model, RestoreSettings(stereo="independent")).window_fn(channels=2)):
        assert type(one_by_one) is WindowRestorer  # independent: the plain per-channel function, as before


def test_linked_pair_is_analysed_once(tiny_model, x, monkeypatch):
    """The restored mid (or side) takes its STFT and band edge from the pair's (the lower sounding channel's
    edge): band edges are detected for the two channels, not again for the mid."""
    import sagasr_stream.engine as engine
    import sagasr_stream.stereo as stereo

    detected: list[int] = []
    real = engine.WindowRestorer.edge_bins

    def counting(self, audio, *args, **kwargs):
        detected.append(len(audio))
        return real(self, audio, *args, **kwargs)

    monkeypatch.setattr(engine.WindowRestorer, "edge_bins", counting)
    pair = np.stack([x, 0.5 * x + 0.1 * band_limited_noise(N, cutoff_hz=EDGE_HZ, seed=2)]).astype(np.float32)
    run(pair, tiny_model, "linked")
    windows = len(detected)
    assert windows >= 1 and set(detected) == {2}, detected  # one call per window, for the pair's two channels
    assert stereo.linked_edge(np.array([0, 300])) == 300 and stereo.linked_edge(np.array([280, 300])) == 280
    assert stereo.linked_edge(np.array([0, 0])) == 1024


def test_given_spectrum_and_edge_are_those_the_restorer_would_find(tiny_model, x):
    """A job that brings its STFT and band edge gets the result of one that lets the restorer find them."""
    from sagasr_stream.dsp import float64_stft
    from sagasr_stream.engine import WindowJob, WindowRestorer

    restorer = WindowRestorer(tiny_model, resolve(RestoreSettings(), tiny_model.manifest))
    window = tiny_model.manifest.window_samples
    audio = np.zeros(window, np.float32)
    audio[: min(window, x.size)] = x[:window]
    spec = float64_stft(audio[None])[0]
    edge = int(restorer.edge_bins(audio[None], spec[None])[0])
    plain = restorer([WindowJob(0, 0, audio)])[0]
    given = restorer([WindowJob(0, 0, audio, spec, edge)])[0]
    assert np.array_equal(plain, given)
    full = restorer([WindowJob(0, 0, audio, spec, 1024)])[0]  # an edge at Nyquist: nothing missing, passed through
    assert np.array_equal(full, audio)


def test_a_linked_pair_beside_a_lone_channel_does_not_depend_on_the_batch_size(tiny_model, x):
    """Three channels: the pair's mid brings its own analysis (the pair's lower band edge, not the mid's own),
    the lone channel's is computed; batches that mix them give every window the result it gets alone."""
    wider = band_limited_noise(N, cutoff_hz=1.5 * EDGE_HZ, seed=3)  # the pair's channels end at 6 and 9 kHz
    three = np.stack([x, 0.5 * x + 0.5 * wider, 0.8 * x]).astype(np.float32)
    results = [run(three, tiny_model, "linked", batch_size=b) for b in (1, 2, 5)]
    for other in results[1:]:
        np.testing.assert_array_equal(results[0], other)
