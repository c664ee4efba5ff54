"""Lossy outputs: MP3 (.mp3, LAME) and Ogg Vorbis (.ogg), as pedalboard writes them. Their rates, channels and
``quality`` values are pedalboard's (measured here), a bit depth or a quality that does not fit the format is
refused before anything is read, overs are limited, and a restore reads back at the input's exact length."""
import io
import logging
import re

import numpy as np
import pytest
from pedalboard.io import AudioFile
from scipy.signal import lfilter, welch

from sagasr_stream.api import restore_file
from sagasr_stream.audio_io import atomic_writer, open_input, partial_path
from sagasr_stream.formats import (
    LOSSY_SUFFIXES, OUTPUT_CHANNEL_LIMITS, OUTPUT_QUALITIES, output_quality, output_rate_problem,
)
from sagasr_stream.cli import main
from sagasr_stream.errors import AudioFileError, ParameterError
from sagasr_stream.partials import PARTIAL
from sagasr_stream.validation import MAX_RATE, MIN_RATE
from tests.conftest import band_limited_noise

MP3_RATES = [8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000]


def write(path, audio, rate=44100):
    planar = audio[None] if audio.ndim == 1 else audio
    with AudioFile(str(path), "w", rate, planar.shape[0]) as f:
        f.write(planar)
    return path


def read(path):
    """(channels, n) as the runtime reads it (an MP3 gaplessly), and its rate."""
    with open_input(path) as (reader, _, rate):
        return reader.read(reader.frames + 10_000), rate


# --- what pedalboard's encoders take ------------------------------------------------------------------------------

def _pedalboard_writes(tmp_path, suffix, rate, channels=1, quality=None):
    """Whether pedalboard writes a ``suffix`` file at ``rate`` that the runtime reads back at that rate and length."""
    path = tmp_path / f"probe{suffix}"
    try:
        with AudioFile(str(path), "w", float(rate), channels, quality=quality) as f:
            f.write(np.full((channels, 300), 0.25, np.float32))
    except ValueError:
        return False
    audio, got = read(path)
    return got == rate and audio.shape == (channels, 300)


@pytest.mark.parametrize("suffix", sorted(LOSSY_SUFFIXES))
def test_the_lossy_rate_limits_are_pedalboards(tmp_path, suffix):
    """MP3 holds the nine MPEG rates only, Vorbis every rate of 1000..200000 Hz (measured rate by rate with
    pedalboard 0.9.26): each edge and its neighbours are written exactly when output_rate_problem takes them."""
    edges = {MIN_RATE, MAX_RATE, 44100, 48000, 88200, 96000, 192000, 200000, 384000, *MP3_RATES}
    rates = sorted({r + d for r in edges for d in (-1, 0, 1)} & set(range(MIN_RATE, MAX_RATE + 1)))
    assert [r for r in rates if _pedalboard_writes(tmp_path, suffix, r) != (output_rate_problem(suffix, r) is None)
            ] == []


@pytest.mark.parametrize("suffix", sorted(LOSSY_SUFFIXES))
def test_the_lossy_channel_limits_are_pedalboards(tmp_path, suffix):
    limit = OUTPUT_CHANNEL_LIMITS[suffix]
    assert _pedalboard_writes(tmp_path, suffix, 44100, channels=limit) if limit <= 8 else True
    assert not _pedalboard_writes(tmp_path, suffix, 44100, channels=limit + 1)


@pytest.mark.parametrize("suffix", sorted(LOSSY_SUFFIXES))
def test_every_quality_offered_is_one_pedalboard_takes(suffix):
    for quality in OUTPUT_QUALITIES[suffix]:
        value = output_quality(f"out{suffix}", quality)
        with AudioFile(io.BytesIO(), "w", 44100, 2, format=suffix.lstrip("."), quality=value) as f:
            f.write(np.zeros((2, 1000), np.float32))


@pytest.mark.parametrize("suffix, given, value", [
    (".mp3", None, "320 kbps"), (".mp3", "V0", "V0"), (".mp3", "v2", "V2"), (".mp3", 320, "320 kbps"),
    (".mp3", "128", "128 kbps"), (".mp3", "192 kbps", "192 kbps"), (".mp3", np.int64(256), "256 kbps"),
    (".ogg", None, "500 kbps"), (".ogg", 128, "128 kbps"), (".OGG", "64kbps", "64 kbps"),
    (".wav", None, None), (".flac", None, None),
])
def test_quality_values_are_read_as_pedalboard_names_them(suffix, given, value):
    assert output_quality(f"out{suffix}", given) == value


@pytest.mark.parametrize("suffix, given", [
    (".mp3", "V10"), (".mp3", 321), (".mp3", 0.8), (".mp3", 256.0), (".mp3", True), (".mp3", "best"),
    (".mp3", 500),
    (".ogg", "V0"), (".ogg", 32), (".ogg", 0.8), (".ogg", "499 kbps"),
])
def test_a_quality_the_format_has_not_is_refused_naming_it_and_the_ones_it_has(suffix, given):
    with pytest.raises(ParameterError, match=re.escape(f"got {given!r}")) as info:
        output_quality(f"out{suffix}", given)
    assert ("V9" in str(info.value)) == (suffix == ".mp3") and "320" in str(info.value)


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".aiff"])
def test_a_quality_for_a_lossless_output_is_refused(suffix):
    with pytest.raises(AudioFileError, match=rf"cannot write out\{suffix}: .*lossless.*quality is for \.mp3 and \.ogg"):
        output_quality(f"out{suffix}", "V0")


def pink_noise(seconds: float, rate: int) -> np.ndarray:
    white = np.random.default_rng(1).standard_normal(int(seconds * rate))
    pink = lfilter([0.049922035, -0.095993537, 0.050612699, -0.004408786],
                   [1, -2.494956002, 2.017265875, -0.522189400], white)
    return (0.1 * pink / np.std(pink)).astype(np.float32)


def band_level_db(x: np.ndarray, y: np.ndarray, rate: int, low: float, high: float) -> float:
    f, px = welch(x, rate, nperseg=2048)
    _, py = welch(y, rate, nperseg=2048)
    band = (f >= low) & (f <= high)
    return float(10 * np.log10(py[band].sum() / px[band].sum()))


def test_the_default_qualities_keep_the_band_as_measured(tmp_path):
    """The documented low-pass of the default qualities: MP3 320 kbps keeps 44.1 kHz audio up to 19.5 kHz and
    cuts above 20.2 kHz; Vorbis 500 kbps keeps it up to 22 kHz."""
    x = pink_noise(1.0, 44100)
    for suffix, kept, cut in ((".mp3", (16000, 19500), (20300, 22000)), (".ogg", (16000, 21800), None)):
        with atomic_writer(tmp_path / f"n{suffix}", 44100, 1) as writer:
            writer.write(x[None])
        y = read(tmp_path / f"n{suffix}")[0][0]
        assert abs(band_level_db(x, y, 44100, *kept)) < 1.0
        assert cut is None or band_level_db(x, y, 44100, *cut) < -15


# --- restoring into them ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("suffix, rate, channels", [(".mp3", 44100, 2), (".mp3", 48000, 1), (".ogg", 44100, 2),
                                                    (".ogg", 96000, 1)])
def test_a_restore_to_a_lossy_file_reads_back_at_the_inputs_length_and_rate(tiny_model, tmp_path, suffix, rate,
                                                                            channels):
    n = int(0.37 * rate) + 1  # no whole number of MP3 frames
    source = write(tmp_path / "in.wav", band_limited_noise(n, seed=3, channels=channels), rate)
    reference = read(restore_file(source, tmp_path / "out.wav", tiny_model))[0]
    lossy, got = read(restore_file(source, tmp_path / f"out{suffix}", tiny_model))
    assert got == rate and lossy.shape == reference.shape == (channels, n)
    for a, b in zip(lossy, reference):
        assert np.corrcoef(a, b)[0, 1] > 0.9
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["in.wav", "out.wav", f"out{suffix}"])


def test_a_bit_depth_for_a_lossy_output_is_refused_before_anything_is_read(tmp_path, no_model):
    source = tmp_path / "in.wav"
    source.write_bytes(b"not audio: never read")
    with pytest.raises(AudioFileError, match=r"cannot write \S*out\.mp3: MP3 is lossy and has no bit depth"):
        restore_file(source, tmp_path / "out.mp3", bit_depth=16)
    with pytest.raises(ParameterError, match=r"quality .*got 'V12'"):
        restore_file(source, tmp_path / "out.mp3", quality="V12")
    with pytest.raises(AudioFileError, match=r"out\.wav: .*lossless"):
        restore_file(source, tmp_path / "out.wav", quality=320)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav"]


MP3_REFUSAL = r"cannot write \S*out\.mp3: MP3 holds sample rates of 8000, 11025, 12000, 16000, 22050, 24000, 32000, " \
              r"44100 and 48000 Hz; not {rate} Hz \(choose another output rate, e\.g\. {hint} Hz"


def test_an_mp3_rate_asked_for_is_refused_before_the_model_loads(tmp_path, no_model):
    source = tmp_path / "in.wav"
    source.write_bytes(b"not audio: never read")
    with pytest.raises(AudioFileError, match=MP3_REFUSAL.format(rate=96000, hint=48000)):
        restore_file(source, tmp_path / "out.mp3", output_rate=96000)
    with pytest.raises(AudioFileError, match=MP3_REFUSAL.format(rate=7000, hint=8000)):
        restore_file(source, tmp_path / "out.mp3", output_rate=7000)
    with pytest.raises(AudioFileError, match=r"Vorbis holds sample rates of 1000\.\.200000 Hz; not 384000 Hz"):
        restore_file(source, tmp_path / "out.ogg", output_rate=384000)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav"]


def test_the_default_rate_and_the_channels_are_checked_from_the_header_before_the_model_loads(tmp_path, no_model,
                                                                                             monkeypatch):
    """A 96 kHz input's output is at 96 kHz, which MP3 cannot hold; three channels neither: both refused once the
    header is read, before the model loads or the input is decoded."""
    import sagasr_stream.api as api

    monkeypatch.setattr(api, "check_audio_file", lambda path: pytest.fail("the input was decoded"))
    high = write(tmp_path / "high.wav", band_limited_noise(960, channels=1), 96000)
    with pytest.raises(AudioFileError, match=MP3_REFUSAL.format(rate=96000, hint=48000)):
        restore_file(high, tmp_path / "out.mp3")
    three = write(tmp_path / "three.wav", band_limited_noise(441, channels=3))
    with pytest.raises(AudioFileError, match=r"cannot write \S*three\.mp3: MP3 holds 1 or 2 channels; the input "
                                             r"\S*three\.wav has 3 \(write \.ogg, \.flac or \.wav\)"):
        restore_file(three, tmp_path / "three.mp3")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["high.wav", "three.wav"]


# --- the writer ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", sorted(LOSSY_SUFFIXES))
def test_overs_of_a_lossy_output_are_limited_and_counted_in_a_warning(tmp_path, caplog, suffix):
    x = np.zeros((1, 4410), np.float32)
    x[0, 2000:2100] = 1.5
    with caplog.at_level(logging.WARNING, logger="sagasr_stream"):
        with atomic_writer(tmp_path / f"o{suffix}", 44100, 1) as writer:
            writer.write(x)
        assert writer.limiter is not None and writer.limiter.limited == 100
    assert "100 samples over full scale" in caplog.text and "lossy output format" in caplog.text
    assert np.abs(read(tmp_path / f"o{suffix}")[0]).max() < 1.2  # 1.5 without the limiter, the codec's ripple


@pytest.mark.parametrize("suffix", sorted(LOSSY_SUFFIXES))
def test_a_lossy_partial_keeps_its_suffix_is_ours_and_goes_when_the_write_fails(tmp_path, suffix):
    destination = tmp_path / f"out{suffix}"
    assert partial_path(destination).suffix == suffix and PARTIAL.match(partial_path(destination).name)
    with pytest.raises(RuntimeError, match="the caller's"):
        with atomic_writer(destination, 44100, 2, quality="128") as writer:
            writer.write(np.zeros((2, 5000), np.float32))
            raise RuntimeError("the caller's")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("suffix", sorted(LOSSY_SUFFIXES))
def test_the_same_samples_give_the_same_file_whatever_the_blocks_written(tmp_path, suffix):
    """Vorbis codes its input as it was cut into writes, and Ogg names each stream by a random serial number: the
    writer feeds the encoder fixed blocks and numbers the stream from its content, so the same samples give the same
    bytes (a batch's stitched output is restore_file's), and the pages it rewrote still pass their CRC."""
    from sagasr_stream.integrity import check_audio_file

    x = band_limited_noise(30_000, channels=2)
    for name, cuts in (("a", [30_000]), ("b", [1, 999, 4097, 4098, 30_000]), ("c", [30_000])):
        with atomic_writer(tmp_path / f"{name}{suffix}", 44100, 2) as writer:
            for start, stop in zip([0, *cuts], cuts):
                writer.write(x[:, start:stop])
    files = [(tmp_path / f"{name}{suffix}").read_bytes() for name in "abc"]
    assert files[0] == files[1] == files[2]
    assert check_audio_file(tmp_path / f"a{suffix}") == 30_000 and read(tmp_path / f"a{suffix}")[0].shape == (2, 30_000)


# --- the command line ---------------------------------------------------------------------------------------------

def test_cli_restores_a_folder_into_mp3_and_ogg_with_a_quality(tiny_bundle, tmp_path, capsys):
    (tmp_path / "in").mkdir()
    for seed, name in enumerate("ab"):
        write(tmp_path / "in" / f"{name}.wav", band_limited_noise(4000, seed=seed))
    common = ["--model", str(tiny_bundle), "-q"]
    assert main(["restore", str(tmp_path / "in"), "-o", str(tmp_path / "mp3"), "--format", "mp3",
                 "--quality", "V2", *common]) == 0
    assert sorted(p.name for p in (tmp_path / "mp3").iterdir()) == ["a.mp3", "b.mp3"]
    assert read(tmp_path / "mp3" / "a.mp3")[0].shape == (1, 4000)
    assert main(["restore", str(tmp_path / "in" / "a.wav"), "-o", str(tmp_path / "one.ogg"), *common]) == 0
    assert read(tmp_path / "one.ogg")[0].shape == (1, 4000)


def test_cli_refuses_what_a_lossy_output_cannot_take(tiny_bundle, tmp_path, capsys):
    """Settings no input could use (a rate asked for, a quality, a bit depth) end the run before any work; an input
    whose own rate or channels the format cannot hold fails alone, from its header, and the others are restored."""
    source = write(tmp_path / "in.wav", band_limited_noise(960, channels=1), 96000)
    assert main(["restore", str(source), "-o", str(tmp_path / "out.mp3"), "--model", str(tiny_bundle), "-q"]) == 1
    err = capsys.readouterr().err
    assert re.search(r"cannot write \S*out\.mp3: MP3 holds sample rates of 8000, .* and 48000 Hz; not 96000 Hz \(choose "
                     r"another output rate, e\.g\. 48000 Hz, or a \.flac or \.wav output\)", err)
    assert main(["restore", str(source), "-o", str(tmp_path / "o"), "--format", "mp3", "--output-rate", "44101"]) == 2
    assert "not 44101 Hz (choose another output rate, e.g. 44100 Hz" in capsys.readouterr().err
    five = write(tmp_path / "five.wav", band_limited_noise(441, channels=5))
    assert main(["restore", str(source), str(five), "-o", str(tmp_path / "o"), "--format", "mp3",
                 "--output-rate", "48000", "--model", str(tiny_bundle), "-q"]) == 1
    assert re.search(r"o/five\.mp3: MP3 holds 1 or 2 channels; the input \S*five\.wav has 5", capsys.readouterr().err)
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["in.mp3"]  # the other input was restored
    assert main(["restore", str(source), "-o", str(tmp_path / "out.mp3"), "--quality", "loud"]) == 2
    assert "got 'loud'" in capsys.readouterr().err
    assert main(["restore", str(source), "-o", str(tmp_path / "out.wav"), "--quality", "V0"]) == 2
    assert "lossless" in capsys.readouterr().err
    assert main(["restore", str(source), "-o", str(tmp_path / "p"), "--format", "ogg", "--bit-depth", "16"]) == 2
    assert "Vorbis is lossy and has no bit depth" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["five.wav", "in.wav", "o"]


# --- Ogg Vorbis' channel order ----------------------------------------------------------------------------------

WAV_NAMES = {3: "FL FR FC", 5: "FL FR FC BL BR", 6: "FL FR FC LFE BL BR", 7: "FL FR FC LFE BC SL SR",
             8: "FL FR FC LFE BL BR SL SR"}  # FLAC's default layouts, in WAV's order
VORBIS_NAMES = {3: "FL FC FR", 5: "FL FC FR BL BR", 6: "FL FC FR BL BR LFE", 7: "FL FC FR SL SR BC LFE",
                8: "FL FC FR SL SR BL BR LFE"}  # the Vorbis I specification, section 4.3.9


@pytest.mark.parametrize("channels", sorted(WAV_NAMES))
def test_vorbis_order_puts_each_speaker_where_the_specification_does(channels):
    from sagasr_stream.channel_order import from_vorbis_order, to_vorbis_order

    names = np.array(WAV_NAMES[channels].split())[:, None]
    assert to_vorbis_order(names)[:, 0].tolist() == VORBIS_NAMES[channels].split()
    assert from_vorbis_order(to_vorbis_order(names)).tolist() == names.tolist()


@pytest.mark.parametrize("channels, centre_in_vorbis", [(3, 1), (6, 1), (8, 1)])
def test_a_multichannel_ogg_is_written_and_read_in_vorbis_order(tiny_model, tmp_path, channels, centre_in_vorbis):
    """pedalboard writes and reads a Vorbis stream's channels unmapped: a 5.1 WAV written to Ogg played with its centre
    on the right (Vorbis' third channel), and a 5.1 Ogg file was restored with (left, centre) as a pair. Only the
    centre (WAV's third channel) sounds here; it must land in Vorbis' second, and come back as WAV's third."""
    audio = np.zeros((channels, 22050), np.float32)
    audio[2] = band_limited_noise(22050, seed=5)
    restore_file(write(tmp_path / "in.wav", audio), tmp_path / "out.ogg", tiny_model)
    with AudioFile(str(tmp_path / "out.ogg")) as f:
        raw = f.read(f.frames)
    assert np.argmax(np.sqrt(np.mean(raw**2, axis=1))) == centre_in_vorbis
    back, _ = read(restore_file(tmp_path / "out.ogg", tmp_path / "back.wav", tiny_model))
    rms = np.sqrt(np.mean(back**2, axis=1))
    assert np.argmax(rms) == 2 and np.sort(rms)[-2] < 0.01 * rms[2]
