import os

import numpy as np
import pytest
from pedalboard.io import AudioFile

from sagasr_stream import AudioFileError, AudioInputError, AudioTypeError, RestoreSettings, restore, restore_file
from sagasr_stream.dsp import rolloff_ratio
from sagasr_stream.headroom import PeakLimiter
from tests.conftest import band_limited_noise


def write(path, audio, rate=44100):
    with AudioFile(str(path), "w", rate, audio.shape[0], bit_depth=32) as f:
        f.write(audio)
    return path


def read(path):
    with AudioFile(str(path)) as f:
        return f.read(f.frames), f.samplerate


@pytest.mark.parametrize("layout", ["mono", "channels_first", "channels_last"])
def test_layouts_round_trip(tiny_model, layout):
    x = band_limited_noise(12000, channels=2)
    x = {"mono": x[0], "channels_first": x, "channels_last": np.ascontiguousarray(x.T)}[layout]
    y = restore(x, 44100, tiny_model)
    assert y.shape == x.shape and y.dtype == np.float32


def test_independent_stereo_processes_channels_independently(tiny_model):
    x = band_limited_noise(12000, channels=2, seed=1)
    independent = RestoreSettings(stereo="independent")
    both = restore(x, 44100, tiny_model, independent)
    # channel 0 alone gives the same as channel 0 of the pair (channel 1 uses its own noise stream)
    np.testing.assert_array_equal(restore(x[0], 44100, tiny_model, independent), both[0])


def test_float64_is_accepted_and_other_rates_are_resampled(tiny_model):
    x = band_limited_noise(16000).astype(np.float64)
    y = restore(x, 16000, tiny_model)
    assert y.dtype == np.float32 and y.shape == (44100,)


def test_low_band_is_kept_exactly_by_default(tiny_model):
    x = band_limited_noise(30000, cutoff_hz=4000.0, seed=2)
    y = restore(x, 44100, tiny_model)
    assert rolloff_ratio(y) > rolloff_ratio(x)  # the model added content above the cutoff
    from scipy import signal

    sos = signal.butter(8, 2500, fs=44100, output="sos")
    low_y, low_x = signal.sosfiltfilt(sos, y)[2048:-2048], signal.sosfiltfilt(sos, x)[2048:-2048]  # not the filter's end transients
    assert np.sqrt(np.mean((low_y - low_x) ** 2)) < 1e-4 * np.sqrt(np.mean(low_x**2))


@pytest.mark.parametrize(
    "audio, rate, error, message",
    [
        (np.zeros(0, np.float32), 44100, AudioInputError, "empty"),
        (np.zeros((2, 0), np.float32), 44100, AudioInputError, "empty"),
        (np.array([0.0, np.nan, 0.0], np.float32), 44100, AudioInputError, "NaN"),
        (np.array([0.0, np.inf], np.float32), 44100, AudioInputError, "NaN/Inf"),
        (np.zeros(100, np.int16), 44100, AudioTypeError, "int16"),
        (np.zeros((2, 100), np.int32), 44100, AudioTypeError, "int32"),
        (np.zeros(100, np.uint8), 44100, AudioTypeError, "uint8"),
        (np.zeros(100, np.complex64), 44100, AudioTypeError, "complex64"),
        (np.zeros((4, 4), np.float32), 44100, AudioInputError, "square"),
        (np.zeros((2, 3, 4), np.float32), 44100, AudioInputError, "1-D"),
        (np.zeros(100, np.float32), 0, AudioInputError, "sample rate"),
        (np.zeros(100, np.float32), 1_000_000, AudioInputError, "unsupported sample rate 1000000"),
        (np.zeros(100, np.float32), 44100.5, AudioInputError, "whole number"),
        (np.zeros(100, np.float32), "44100", AudioInputError, "number"),
        ([0.0, 0.1], 44100, AudioTypeError, "numpy"),
    ],
)
def test_bad_input_gets_a_clear_error(tiny_model, audio, rate, error, message):
    with pytest.raises(error, match=message):
        restore(audio, rate, tiny_model)


def test_bad_settings_get_a_clear_error(tiny_model):
    x = np.zeros(100, np.float32)
    for settings, message in [
        (RestoreSettings(overlap=100), "multiple of 256"),
        (RestoreSettings(steps=0), "steps"),
        (RestoreSettings(batch_size=0), "batch_size"),
        (RestoreSettings(target_rolloff_hz=30000), "roll-off"),
        (RestoreSettings(low_band="maybe"), "low_band"),  # type: ignore[arg-type]
    ]:
        with pytest.raises(ValueError, match=message):
            restore(x, 44100, tiny_model, settings)


def test_square_input_is_fine_with_an_explicit_layout(tiny_model):
    y = restore(np.zeros((2, 2), np.float32), 44100, tiny_model, layout="channels_first")
    assert y.shape == (2, 2)


def test_restore_file_matches_the_array_api(tiny_model, tmp_path):
    x = band_limited_noise(70000, channels=2, seed=3)
    src = write(tmp_path / "in.wav", x)
    calls = []
    out = restore_file(src, tmp_path / "out" / "restored.wav", tiny_model, progress=lambda d, t: calls.append((d, t)))
    y, rate = read(out)
    expected = restore(x, 44100, tiny_model)
    assert rate == 44100 and y.shape == x.shape
    np.testing.assert_allclose(y, expected, atol=1e-6)  # 32-bit float WAV
    assert calls[-1][0] == calls[-1][1] > 1
    flac, _ = read(restore_file(src, tmp_path / "out" / "restored.flac", tiny_model))
    limiter = PeakLimiter()  # 24-bit FLAC: the float result with its overs limited, rounded to 24 bits
    np.testing.assert_allclose(flac, np.concatenate([limiter(expected), limiter.flush()], axis=1), atol=2e-7)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["restored.flac", "restored.wav"]


def test_restore_file_resamples_low_rate_files(tiny_model, tmp_path):
    src = write(tmp_path / "low.wav", band_limited_noise(8000, cutoff_hz=3000, channels=1), rate=8000)
    y, rate = read(restore_file(src, tmp_path / "up.wav", tiny_model))
    assert rate == 44100 and abs(y.shape[1] - 44100) <= 1


def test_restore_file_never_overwrites(tiny_model, tmp_path):
    src = write(tmp_path / "in.wav", band_limited_noise(5000, channels=1))
    before = src.read_bytes()
    with pytest.raises(AudioFileError, match="input"):
        restore_file(src, src, tiny_model, overwrite=True)
    dst = tmp_path / "done.wav"
    dst.write_bytes(b"previous result")
    with pytest.raises(AudioFileError, match="exists"):
        restore_file(src, dst, tiny_model)
    assert src.read_bytes() == before and dst.read_bytes() == b"previous result"


def test_interrupted_restore_leaves_no_partial_file(tiny_model, tmp_path):
    src = write(tmp_path / "in.wav", band_limited_noise(40000, channels=1))

    def interrupt(done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        restore_file(src, tmp_path / "out.wav", tiny_model, progress=interrupt)
    assert sorted(os.listdir(tmp_path)) == ["in.wav"]


def test_unreadable_files_are_named(tiny_model, tmp_path):
    with pytest.raises(AudioFileError, match="not found"):
        restore_file(tmp_path / "missing.wav", tmp_path / "o.wav", tiny_model)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF not really audio")
    with pytest.raises(AudioFileError, match="bad.wav"):
        restore_file(bad, tmp_path / "o.wav", tiny_model)
    src = write(tmp_path / "in.wav", band_limited_noise(100, channels=1))
    with pytest.raises(AudioFileError, match="format"):
        restore_file(src, tmp_path / "o.m4a", tiny_model)


def test_empty_and_non_finite_files_are_named(tiny_model, tmp_path):
    empty = tmp_path / "empty.wav"
    with AudioFile(str(empty), "w", 44100, 1, bit_depth=32):
        pass
    with pytest.raises(AudioFileError, match="empty.wav holds no samples"):
        restore_file(empty, tmp_path / "o.wav", tiny_model)
    x = band_limited_noise(30000, channels=1)
    x[0, 20000] = np.nan
    with pytest.raises(AudioFileError, match="nan.wav holds NaN/Inf"):
        restore_file(write(tmp_path / "nan.wav", x), tmp_path / "o.wav", tiny_model)
    assert sorted(os.listdir(tmp_path)) == ["empty.wav", "nan.wav"]  # no output, no partial file


def test_restore_file_memory_does_not_grow_with_the_file_length(tiny_model, tmp_path, monkeypatch):
    import tracemalloc

    # one thread finishes the windows: with more, the peak depends on how the threads' work happens to overlap
    # (bounded by the threads, whatever the length; 1.21x once on a loaded machine), which is not what this measures
    monkeypatch.setenv("SAGASR_THREADS", "1")
    peaks = []
    for seconds in (2, 16):
        src = write(tmp_path / f"{seconds}.wav", band_limited_noise(seconds * 44100, channels=1))
        tracemalloc.start()
        try:
            restore_file(src, tmp_path / f"{seconds}_out.wav", tiny_model)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
    # the 16 s file alone is 2.8 MB of float32: holding it would show far above the 2 s peak
    assert peaks[1] < 1.2 * peaks[0], peaks


def test_the_default_overlap_is_the_bundles_fraction_of_a_window(tiny_model):
    import dataclasses

    from sagasr_stream.errors import SettingsError
    from sagasr_stream.settings import resolve

    m = tiny_model.manifest  # 8192-sample windows, 256x downsampling
    assert resolve(RestoreSettings(), m).overlap == 2048  # a quarter unless the bundle says otherwise
    half = dataclasses.replace(m, defaults=dataclasses.replace(m.defaults, overlap_fraction=0.5))
    assert resolve(RestoreSettings(), half).overlap == 4096
    assert resolve(RestoreSettings(overlap=1024), half).overlap == 1024  # the caller's own wins
    odd = dataclasses.replace(m, defaults=dataclasses.replace(m.defaults, overlap_fraction=0.3))
    assert resolve(RestoreSettings(), odd).overlap == 2304  # rounded down to the downsampling (2457.6 -> 2304)
    for bad in (-0.1, 0.6):
        wrong = dataclasses.replace(m, defaults=dataclasses.replace(m.defaults, overlap_fraction=bad))
        with pytest.raises(SettingsError, match="overlap_fraction"):
            resolve(RestoreSettings(), wrong)


def test_the_embedded_default_model_overlaps_its_windows_by_half():
    from sagasr_stream.restorer import Restorer

    assert Restorer.load().plan.overlap == 32768  # chosen on the tuning and selection clips (model card)


def test_a_full_disk_mid_file_is_named_and_leaves_no_partial_file(tiny_model, tmp_path, monkeypatch):
    """pedalboard's writer fails with "Unable to write data to audio file." whatever the reason; on a full disk
    the error says so (measured on a 3 MB tmpfs: the same message, then the free space)."""
    import shutil
    from collections import namedtuple

    import sagasr_stream.audio_io as audio_io

    src = write(tmp_path / "in.wav", band_limited_noise(3 * 65536, channels=1))

    class FillingWriter:  # pedalboard's writer on a disk that fills after the first block
        def __init__(self, *args, **kwargs):
            self.inner, self.blocks = AudioFile(*args, **kwargs), 0

        def write(self, block):
            self.blocks += 1
            if self.blocks > 1:
                raise RuntimeError("Unable to write data to audio file.")
            self.inner.write(block)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.inner.close()

    usage = namedtuple("usage", "total used free")
    opened = lambda *args, **kwargs: (FillingWriter if args[1:2] == ("w",) else AudioFile)(*args, **kwargs)  # noqa: E731
    monkeypatch.setattr(audio_io, "AudioFile", opened)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 4096, 4096))
    with pytest.raises(AudioFileError, match=r"cannot write .*out\.wav: No space left on device \(4096 bytes free\)"):
        restore_file(src, tmp_path / "out.wav", tiny_model, settings=RestoreSettings(batch_size=1))
    assert sorted(os.listdir(tmp_path)) == ["in.wav"]
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 0, 10**9))  # room: pedalboard's words
    with pytest.raises(AudioFileError, match="out.wav: Unable to write data"):
        restore_file(src, tmp_path / "out.wav", tiny_model, settings=RestoreSettings(batch_size=1))
    assert sorted(os.listdir(tmp_path)) == ["in.wav"]
