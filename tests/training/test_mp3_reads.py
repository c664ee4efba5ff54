"""Training reads an MP3 as the runtime does (:func:`sagasr_stream.audio_io.open_input`): without the encoder delay
and padding its LAME tag records. pedalboard's decoder returns them (a 1.0 s 44.1 kHz file decodes to 46080 samples,
1105 late), and training read MP3s with it: windows late by the delay, lengths that counted the padding."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pedalboard.io import AudioFile

from sagasr_stream.audio_io import open_input, read_blocks
from sagasr_stream.mp3 import mp3_gapless
from sagasr_training.audio_files import clip_frames, frames_at
from sagasr_training.data import DataConfig, WindowDataset, audio_frames, read_window
from tests.runtime.test_mp3_input import lag, source, write_mp3

SR = 44100


def runtime_read(path: Path, sample_rate: int | None = SR) -> np.ndarray:
    """The runtime's (gapless) read of a whole file: (channels, n) float32."""
    with open_input(path, sample_rate) as (reader, _channels, _rate):
        return np.concatenate(list(read_blocks(reader, 5000)), axis=1)


@pytest.fixture(params=[44100, 22050], ids=["44k", "22k"])
def mp3(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, np.ndarray, int]:
    """A 1 s stereo MP3 with a LAME tag (delay and padding), its source samples and rate."""
    rate = request.param
    x = source(rate, 2)
    (tmp_path / "clip").mkdir()
    path = write_mp3(tmp_path / "clip" / "x.mp3", x, rate)
    assert mp3_gapless(path) is not None
    with AudioFile(str(path)) as f:
        assert f.frames > x.shape[1]  # pedalboard's own count holds the delay and padding
    return path, x, rate


def test_training_counts_an_mp3s_frames_as_the_runtime_reads_them(mp3: tuple[Path, np.ndarray, int]) -> None:
    path, x, rate = mp3
    assert clip_frames(path) == (x.shape[1], rate)
    assert audio_frames(path, SR) == runtime_read(path).shape[1] == x.shape[1] * SR // rate
    ds = WindowDataset(DataConfig(root=str(path.parent), window_samples=8192, val_fraction=0.0,
                                  captions=None).validate())
    assert ds.lengths == [audio_frames(path, SR)]


def test_training_reads_an_mp3s_windows_as_the_runtime_reads_them(mp3: tuple[Path, np.ndarray, int]) -> None:
    path, x, rate = mp3
    expected = runtime_read(path).mean(axis=0)
    whole = read_window(path, 0, audio_frames(path, SR), SR)
    assert np.array_equal(whole, expected)
    assert np.array_equal(read_window(path, 5000, 2048, SR), expected[5000:7048])
    if rate == SR:
        assert lag(whole, x.mean(axis=0)) == 0  # not 1105 samples late


def test_an_mp3_whose_tag_leaves_no_samples_is_refused_by_name(tmp_path: Path) -> None:
    """The runtime reads no samples from it (its delay and padding cover every decoded frame): a data set refuses it
    as an empty file, rather than taking a clip the runtime cannot open."""
    root = tmp_path / "data"
    root.mkdir()
    path = write_mp3(root / "x.mp3", source(SR, 1, seconds=0.02), SR)
    data = path.read_bytes()
    lame = data.index(b"LAME")
    path.write_bytes(data[: lame + 21] + (576 << 12 | 0xFFF).to_bytes(3, "big") + data[lame + 24 :])
    assert mp3_gapless(path) == (576 + 529, 0)
    with pytest.raises(ValueError, match=r"x\.mp3 holds no audio frames"):
        WindowDataset(DataConfig(root=str(root), window_samples=8192, val_fraction=0.0, captions=None).validate())


def test_the_band_level_fit_and_captions_read_an_mp3_as_the_runtime(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from sagasr_training import band_level
    from sagasr_training.captions import MetadataCaptioner, generate_captions

    root = tmp_path / "data"
    root.mkdir()
    path = write_mp3(root / "x.mp3", source(SR, 2), SR)
    read: list[np.ndarray] = []
    monkeypatch.setattr(band_level, "clip_points", lambda audio, cutoffs, noise: read.append(audio) or [(0.0, 0.0)])
    with pytest.raises(ValueError, match="need at least 2"):  # one point per clip here: the audio is what counts
        band_level.measure_corpus(root)
    assert len(read) == 1 and np.array_equal(read[0], runtime_read(path, None).mean(axis=0))

    class Recorder(MetadataCaptioner):
        def caption(self, audio: np.ndarray, path: Path | None = None) -> str:
            read.append(audio)
            return "audio"

    assert generate_captions(root, tmp_path / "captions.jsonl", Recorder(), max_seconds=0.5, progress=False) == 1
    expected = runtime_read(path, Recorder.sample_rate)[:, : Recorder.sample_rate // 2].mean(axis=0)
    assert np.array_equal(read[1], expected)


def test_the_corpus_loader_reads_an_mp3_as_the_runtime(tmp_path: Path) -> None:
    from sagasr_training.corpus.audio import load_mono

    path = write_mp3(tmp_path / "x.mp3", source(SR, 2), SR)
    audio, rate = load_mono(path, SR)
    assert rate == SR and np.array_equal(audio, runtime_read(path).astype(np.float64).mean(axis=0))


def test_a_data_set_counts_a_clip_as_audio_frames_does(audio_dir: Path) -> None:
    """The data set's lengths and :func:`audio_frames` are one conversion (:func:`frames_at`), at every rate."""
    ds = WindowDataset(DataConfig(root=str(audio_dir), window_samples=8192, val_fraction=0.0,
                                  captions=None).validate())
    assert ds.lengths == [audio_frames(p, SR) for p in ds.files]
    with AudioFile(str(ds.files[0])) as f:
        assert ds.lengths[0] == frames_at(f.frames, f.samplerate, SR) == int(f.frames * SR / f.samplerate)
    assert frames_at(48001, 48000, SR) == 44100 and frames_at(22051, 22050.0, SR) == 44102
