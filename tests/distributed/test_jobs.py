"""The worker's jobs without Ray: prepare -> segments -> stitch writes the same bytes as restore_file, for a
file read directly, a file resampled once before splitting, FLAC output (limiter) and another output rate;
the run manifest; input lists and output paths."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from pedalboard.io import AudioFile

from sagasr_stream.api import restore_file
from sagasr_stream.distributed.inputs import discover, output_paths
from sagasr_stream.distributed.jobs import FileJob, prepare, run_segment, staged_path, stitch
from sagasr_stream.distributed.manifest import RunManifest, input_identity, is_complete
from sagasr_stream.distributed.segments import plan_segments
from sagasr_stream.errors import SagasrError
from sagasr_stream.files import sha256_file
from sagasr_stream.restorer import Restorer, offline_windows_per_call
from sagasr_stream.settings import RestoreSettings, resolve
from tests.conftest import band_limited_noise


def write(path: Path, audio: np.ndarray, rate: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with AudioFile(str(path), "w", rate, audio.shape[0]) as f:
        f.write(audio)
    return path


def split_restore(model, source: Path, destination: Path, output_rate=None, windows_per_segment: int = 3,
                  keep: int | None = None) -> int:
    """What the pool does for a long file, in order, in this process; returns the number of segments.
    ``keep``: restore only the first ``keep`` segments and stop (an interrupted run), without stitching."""
    job = FileJob(str(source), str(destination), str(destination.parent / ".work"))
    restorer = Restorer(model)
    prepared = prepare(restorer, job)
    per_call = offline_windows_per_call(restorer.settings, prepared.channels)
    segments = plan_segments(prepared.model_frames, restorer.plan, per_call, windows_per_segment)
    if keep is not None:
        for index in range(keep):
            run_segment(restorer, job, prepared, index, segments[index])
        return len(segments)
    for index in reversed(range(len(segments))):  # any order
        run_segment(restorer, job, prepared, index, segments[index])
    stitch(restorer, output_rate, job, prepared, segments)
    assert (prepared.read_from == str(source)) == (source.suffix == ".wav" and prepared.rate == 44100)
    assert Path(prepared.read_from).is_file() and (prepared.read_from != str(source)) == staged_path(job).is_file()
    return len(segments)


@pytest.mark.parametrize("rate, suffix, out_suffix, output_rate", [
    (44100, ".wav", ".wav", None),      # read directly
    (44100, ".wav", ".flac", None),     # 24-bit output through the soft limiter
    (48000, ".wav", ".wav", None),      # resampled once to 44.1 kHz, written back at 48 kHz: the source kept
    (96000, ".flac", ".flac", None),    # decoded twice (staging, then the source kept at 96 kHz), limited
    (22050, ".flac", ".wav", 32000),    # decoded + resampled once, written at another rate
    (48000, ".wav", ".mp3", None),      # lossy: the encoder given the same samples in other blocks
    (44100, ".wav", ".ogg", 22050),
])
def test_split_restore_writes_the_bytes_of_restore_file(tiny_model, tmp_path, rate, suffix, out_suffix, output_rate):
    audio = 1.6 * band_limited_noise(int(1.6 * rate), seed=rate, channels=2)  # peaks above -1 dBFS for the FLAC case
    source = write(tmp_path / f"in{suffix}", audio, rate)
    assert split_restore(tiny_model, source, tmp_path / "split" / f"out{out_suffix}", output_rate) >= 3
    restore_file(source, tmp_path / f"single{out_suffix}", tiny_model, output_rate=output_rate)
    assert (tmp_path / "split" / f"out{out_suffix}").read_bytes() == (tmp_path / f"single{out_suffix}").read_bytes()


def test_split_restore_of_a_5_1_file_keeps_its_speaker_layout_as_restore_file_does(tiny_model, tmp_path):
    """restore_file keeps a WAV input's channel mask (5.1 with side surrounds, 0x60F); the stitched output of a long
    file must be the same bytes, not the channel count's default layout (0x3F)."""
    from sagasr_stream.audio_io import wav_channel_mask
    from tests.runtime.test_audio_io import extensible_wav

    source = tmp_path / "in.wav"
    extensible_wav(source, 6, 0x60F, rate=44100, frames=int(1.6 * 44100))
    assert split_restore(tiny_model, source, tmp_path / "split" / "out.wav") >= 3
    restore_file(source, tmp_path / "single.wav", tiny_model)
    assert wav_channel_mask(tmp_path / "split" / "out.wav")[1] == 0x60F
    assert (tmp_path / "split" / "out.wav").read_bytes() == (tmp_path / "single.wav").read_bytes()


def test_a_rerun_with_other_segments_does_not_stitch_the_segments_of_the_interrupted_run(tiny_model, tmp_path):
    """Segments left by an interrupted run that cut the file otherwise (another ``segment_seconds``) are not
    taken for the new plan's: the stitched file is still restore_file's, byte for byte."""
    source = write(tmp_path / "in.wav", band_limited_noise(150_000, seed=3)[None], 44100)
    destination = tmp_path / "split" / "out.wav"
    assert split_restore(tiny_model, source, destination, windows_per_segment=2, keep=3) > 3  # interrupted
    assert split_restore(tiny_model, source, destination, windows_per_segment=5) >= 3
    single = restore_file(source, tmp_path / "single.wav", tiny_model)
    assert destination.read_bytes() == single.read_bytes()


@pytest.mark.parametrize("suffix", [".flac", ".mp3"])
def test_split_restore_keeps_the_tags_as_restore_file_does(tiny_model, tmp_path, suffix):
    """A long tagged FLAC (Vorbis comments, a picture) or MP3 (ID3v2 and ID3v1): the stitched output carries its
    tags and is restore_file's, byte for byte."""
    from mutagen.flac import FLAC, Picture
    from mutagen.id3 import ID3, TIT2

    source = tmp_path / f"in{suffix}"
    with AudioFile(str(source), "w", 44100, 1, **({"quality": 320} if suffix == ".mp3" else {})) as f:
        f.write(band_limited_noise(int(1.6 * 44100), seed=5)[None])
    if suffix == ".flac":
        tagged = FLAC(source)
        tagged["TITLE"] = "Süß"
        cover = Picture()
        cover.type, cover.mime, cover.data = 3, "image/png", b"\x89PNG" + bytes(500)
        tagged.add_picture(cover)
        tagged.save()
    else:
        tag = ID3()
        tag.add(TIT2(encoding=3, text="Süß"))
        tag.save(source, v1=2)
    assert split_restore(tiny_model, source, tmp_path / "split" / f"out{suffix}") >= 3
    single = restore_file(source, tmp_path / f"single{suffix}", tiny_model)
    assert (tmp_path / "split" / f"out{suffix}").read_bytes() == single.read_bytes()
    if suffix == ".flac":
        assert FLAC(single)["TITLE"] == ["Süß"] and FLAC(single).pictures[0].data == b"\x89PNG" + bytes(500)
    else:
        assert str(ID3(single)["TIT2"]) == "Süß" and single.read_bytes()[-128:] == source.read_bytes()[-128:]


def test_split_restore_of_a_quiet_16_bit_file_writes_the_bytes_of_restore_file(tiny_model, tmp_path):
    audio = 0.0005 * band_limited_noise(int(1.6 * 44100), seed=16, channels=2)  # its cut 20 dB over the rounding
    source = tmp_path / "in.wav"
    with AudioFile(str(source), "w", 44100, 2, bit_depth=16) as f:
        f.write(audio)
    assert split_restore(tiny_model, source, tmp_path / "split" / "out.wav") >= 3
    restore_file(source, tmp_path / "single.wav", tiny_model)
    assert (tmp_path / "split" / "out.wav").read_bytes() == (tmp_path / "single.wav").read_bytes()
    energies = []
    for path in (source, tmp_path / "single.wav"):  # above 8.8 kHz
        with AudioFile(str(path)) as f:
            energies.append(np.sum(np.abs(np.fft.rfft(f.read(f.frames)[0].astype(np.float64)))[f.frames // 5 :] ** 2))
    assert energies[1] > 10 * energies[0]  # the cut found under the rounding floor, and restored, in both


def test_manifest_skips_cut_lines_and_checks_settings_input_and_output(tmp_path):
    source = tmp_path / "a.wav"
    source.write_bytes(b"input")
    output = tmp_path / "out" / "a.wav"
    output.parent.mkdir()
    output.write_bytes(b"restored")
    manifest = RunManifest(tmp_path / "out")
    good = {**input_identity(source), "output": str(output), "status": "ok", "fingerprint": "f1",
            "output_sha256": sha256_file(output)}
    manifest.append(good)
    with open(manifest.path, "a") as f:
        f.write('{"output": "cut sho')  # a run killed mid-line
    manifest.append({"output": "other", "status": "ok"})
    assert [r["output"] for r in manifest.records()] == [str(output), "other"]
    assert json.loads(manifest.path.read_text().splitlines()[-1])["output"] == "other"
    record = manifest.latest()[str(output)]
    assert is_complete(record, source, output, "f1")
    assert not is_complete(record, source, output, "f2")  # other settings
    output.write_bytes(b"damaged!")
    assert not is_complete(record, source, output, "f1")  # output changed
    output.write_bytes(b"restored")
    source.write_bytes(b"input, edited")
    assert not is_complete(record, source, output, "f1")  # input changed
    assert not is_complete({**good, "status": "error"}, source, output, "f1")


def test_list_files_globs_and_folders_are_discovered(tmp_path):
    for name in ("tapes/side_a.wav", "tapes/side_b.flac", "tapes/notes.md", "other/x.wav", "far/y.wav"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "list.txt").write_text(f"# tapes\ntapes/\n\n{tmp_path / 'far' / 'y.wav'}\n")
    found = discover([tmp_path / "list.txt", str(tmp_path / "other" / "*.wav")])
    assert [str(rel) for _, rel in found] == ["far/y.wav", "x.wav", "tapes/side_a.wav", "tapes/side_b.flac"]
    outs = output_paths(found, tmp_path / "out", ".wav")
    assert outs[-1] == tmp_path / "out" / "tapes" / "side_b.wav"
    (tmp_path / "empty.txt").write_text("# nothing\n")
    with pytest.raises(SagasrError, match="names no files"):
        discover([tmp_path / "empty.txt"])


def test_two_inputs_on_one_output_and_an_output_onto_an_input_are_refused(tmp_path):
    a, b = tmp_path / "a" / "x.wav", tmp_path / "b" / "x.flac"
    with pytest.raises(SagasrError, match="would both be written"):
        output_paths([(a, Path("x.wav")), (b, Path("x.flac"))], tmp_path / "out", ".wav")
    with pytest.raises(SagasrError, match="is an input file"):
        output_paths([(a, Path("x.wav"))], tmp_path / "a", ".wav")


def test_a_rerun_with_the_output_folder_inside_the_input_folder_leaves_out_its_own_outputs(tmp_path):
    """``sagasr batch in/ -o in/restored`` a second time: the first run's outputs (its manifest vouches for them)
    and scratch files are found in ``in/`` but are not inputs (they are skipped or redone by the manifest, never
    refused or restored again)."""
    from sagasr_stream.distributed.inputs import plan_outputs
    from sagasr_stream.distributed.manifest import RunManifest
    from sagasr_stream.files import sha256_file

    root = tmp_path.resolve()
    out = root / "in" / "restored"
    for name in ("in/a.wav", "in/sub/b.flac", "in/restored/a.wav", "in/restored/sub/b.wav",
                 "in/restored/.sagasr-batch/k/input-at-model-rate.wav"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(name.encode())
    manifest = RunManifest(out)
    for name in ("a.wav", "sub/b.wav"):
        manifest.append({"output": str(out / name), "status": "ok", "output_sha256": sha256_file(out / name)})
    found, outs = plan_outputs(discover([root / "in"]), out, ".wav", out / ".sagasr-batch", manifest.wrote)
    assert [str(rel) for _, rel in found] == ["a.wav", "sub/b.flac"]
    assert outs == [out / "a.wav", out / "sub" / "b.wav"]
    (out / "sub" / "b.wav").write_bytes(b"the user's own file now")  # no longer what the run wrote: an input
    with pytest.raises(SagasrError, match="is an input file"):
        plan_outputs(discover([root / "in"]), out, ".wav", out / ".sagasr-batch", manifest.wrote)
    with pytest.raises(SagasrError, match="is an input file"):  # an input onto itself is still refused
        plan_outputs(discover([root / "in"]), root / "in", ".wav", root / "in" / ".sagasr-batch", manifest.wrote)


def test_an_input_where_another_inputs_output_would_go_is_never_overwritten(tmp_path):
    """``x.wav`` and ``x.flac`` in one folder, ``-o`` that folder, ``--format flac``: x.wav's output would replace
    the user's x.flac. The batch refuses before anything runs (it used to leave x.flac out as "its own output"
    and overwrite it)."""
    folder = tmp_path / "dd"
    folder.mkdir()
    for name, frames in (("x.wav", 11025), ("x.flac", 22050)):
        with AudioFile(str(folder / name), "w", 44100, 1) as f:
            f.write(band_limited_noise(frames, channels=1))
    before = (folder / "x.flac").read_bytes()
    from sagasr_stream.distributed import restore_batch

    with pytest.raises(SagasrError, match="is an input file"):
        restore_batch([folder], folder, fmt="flac", workers=1)
    assert (folder / "x.flac").read_bytes() == before


def test_restore_batch_without_ray_says_what_to_install(tiny_bundle, tmp_path, monkeypatch):
    """The README's Python batch call in an environment without the [ray] extra: the error names Ray and how to
    install it (it used to be a ModuleNotFoundError from deep in the pool)."""
    import sys

    from sagasr_stream.distributed import restore_batch

    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` fail
    write(tmp_path / "in" / "a.wav", band_limited_noise(11025, channels=1), 44100)
    with pytest.raises(SagasrError, match=r'pip install "ray>=2.9"'):
        restore_batch([tmp_path / "in"], tmp_path / "out", model=tiny_bundle, progress=False)


def test_the_settings_fingerprint_covers_settings_band_limit_output_rate_format_model_and_runtime(tiny_model, monkeypatch):
    from sagasr_stream.distributed import runner

    def fingerprint(settings=RestoreSettings(), output_rate=None, suffix=".wav", manifest=tiny_model.manifest,
                    band_limit_hz=None, quality=None):
        return runner.settings_fingerprint(resolve(settings, manifest), manifest, output_rate, suffix, band_limit_hz,
                                           quality=quality)[0]

    base = fingerprint()
    assert fingerprint() == base
    others = [fingerprint(RestoreSettings(seed=3)), fingerprint(RestoreSettings(steps=2)), fingerprint(output_rate=48000),
              fingerprint(suffix=".flac"), fingerprint(manifest=tiny_model.manifest.__class__(
                  **{**tiny_model.manifest.__dict__, "files": {**tiny_model.manifest.files, "dit.onnx": "0" * 64}})),
              fingerprint(band_limit_hz=3000.0), fingerprint(suffix=".mp3", quality="320 kbps"),
              fingerprint(suffix=".mp3", quality="V0")]
    monkeypatch.setattr(runner, "AUTO_COMPLETE_BAND_HZ", 16000.0)  # the runtime's pass-through threshold of old
    others.append(fingerprint())
    monkeypatch.setattr(runner, "__version__", "0.0.9")
    others.append(fingerprint())
    assert len({base, *others}) == 11


def test_an_output_finished_after_its_driver_died_is_recorded_not_redone(tiny_model, tiny_bundle, tmp_path):
    """A worker's done note (written after the output) lets the next run record the file without Ray; a note
    whose output no longer matches is not trusted."""
    from sagasr_stream.distributed import restore_batch
    from sagasr_stream.distributed.jobs import done_path, restore_whole
    from sagasr_stream.distributed.runner import WORK_FOLDER, _pending_files, settings_fingerprint, BatchSummary
    from sagasr_stream.distributed.inputs import discover, output_paths

    source = write(tmp_path / "in" / "a.wav", band_limited_noise(9_000)[None], 44100)
    out = (tmp_path / "out").resolve()
    found = discover([tmp_path / "in"])
    destinations = output_paths(found, out, ".wav")
    resolved = resolve(RestoreSettings(), tiny_model.manifest)
    fingerprint = settings_fingerprint(resolved, tiny_model.manifest, None, ".wav")[0]
    files, _, recovered = _pending_files(found, destinations, RunManifest(out), fingerprint, out, 44100,
                                         Restorer(tiny_model).plan, 60.0, BatchSummary())
    job = files[0].job
    assert not recovered and job.work.startswith(str(out / WORK_FOLDER))
    restore_whole(Restorer(tiny_model), None, job)  # the worker finished; its driver died: no manifest line
    assert done_path(job).is_file() and not RunManifest(out).path.exists()
    mtime = destinations[0].stat().st_mtime_ns
    summary = restore_batch([tmp_path / "in"], out, model=tiny_bundle, progress=False)  # no Ray needed
    assert (summary.restored, summary.skipped, summary.workers) == (0, 1, 0)
    assert destinations[0].stat().st_mtime_ns == mtime
    [record] = RunManifest(out).records()
    assert record["status"] == "ok" and record["output_sha256"] == sha256_file(destinations[0])
    assert not (out / WORK_FOLDER).exists()  # the note is gone once the manifest has the file
    assert restore_batch([tmp_path / "in"], out, model=tiny_bundle, progress=False).skipped == 1  # by the manifest now
    assert source.is_file()


def test_split_restore_gives_dark_windows_the_single_pass_band_limit(tiny_model, tmp_path):
    """A window too dark to show its own edge is restored from the file's edge so far (sagasr_stream.bandlimit);
    the segments get the limits prepare() measured, so the bytes still equal restore_file's."""
    from tests.runtime.test_band_limit import dark_after_bright, low_tones

    x = dark_after_bright(12288, 40_000, low_tones(40_000))
    source = write(tmp_path / "dark.wav", np.stack([x, 0.5 * x]), 44100)
    assert split_restore(tiny_model, source, tmp_path / "split" / "out.wav", windows_per_segment=1) >= 2
    single = restore_file(source, tmp_path / "single.wav", tiny_model)
    assert (tmp_path / "split" / "out.wav").read_bytes() == single.read_bytes()
    with AudioFile(str(single)) as f:
        restored = f.read(f.frames)
    for alone in (slice(14336, 18432), slice(32768, 36864)):  # windows 2 and 5 alone: in the first and second
        assert not np.allclose(restored[0, alone], x[alone], atol=1e-3)  # segment; dark, restored thanks to the limit


def test_an_input_replaced_with_its_size_and_mtime_kept_has_another_identity(tmp_path):
    """``cp -p`` / ``rsync -a`` of other audio of the same length over an input kept its size and mtime: an
    interrupted run's segments of the old audio were stitched into the new file's output."""
    import os

    source = tmp_path / "x.wav"
    source.write_bytes(b"a" * 4096)
    before = input_identity(source)
    stat = source.stat()
    source.write_bytes(b"b" * 4096)
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert source.stat().st_mtime_ns == stat.st_mtime_ns and input_identity(source) != before


def test_a_manifest_line_that_is_not_utf8_is_skipped_not_fatal(tmp_path):
    manifest = RunManifest(tmp_path)
    manifest.append({"output": "a.wav", "status": "ok"})
    with open(manifest.path, "ab") as f:
        f.write(b'{"output": "\xe9t\xe9"}\n')  # Latin-1 bytes: blocked every rerun with UnicodeDecodeError
    manifest.append({"output": "b.wav", "status": "ok"})
    assert sorted(manifest.latest()) == ["a.wav", "b.wav"]


def test_one_folder_given_as_a_string_is_one_input(tmp_path, monkeypatch):
    """``restore_batch("corpus", "restored")``: a string was taken as a sequence of one-letter inputs: "no input
    matches 'c'" (and an absolute path's first letter, "/", searched the whole file system)."""
    monkeypatch.chdir(tmp_path)  # relative names: the old code must not walk "/" here
    write(tmp_path / "corpus" / "a.wav", band_limited_noise(4410)[None], 44100)
    assert [rel for _, rel in discover("corpus")] == [Path("a.wav")]
    assert [rel for _, rel in discover(Path("corpus"))] == [Path("a.wav")]
    from sagasr_stream.distributed import restore_batch

    with pytest.raises(SagasrError, match="no input matches 'missing_folder'"):
        restore_batch("missing_folder", "out", progress=False)
