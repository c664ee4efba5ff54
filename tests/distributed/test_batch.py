"""``sagasr batch`` on a local Ray (2 CPUs, started once for the module) with the tiny model: outputs equal
``sagasr restore`` bit for bit (long files split across workers included), reruns skip complete files, bad
inputs are recorded, a killed worker or a killed driver loses nothing."""
from __future__ import annotations

import json
from hashlib import sha256 as _sha256
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import ray
from pedalboard.io import AudioFile

from sagasr_stream.api import restore_file
from sagasr_stream.audio_io import resample
from sagasr_stream.cli import main
from sagasr_stream.distributed import restore_batch
from sagasr_stream.distributed.manifest import MANIFEST_NAME
from sagasr_stream.errors import SagasrError
from tests.conftest import band_limited_noise

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray instance for this module; yields its address (for a second driver in a subprocess)."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no network
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


def sha256(data: bytes) -> str:
    return _sha256(data).hexdigest()


def write(path: Path, audio: np.ndarray, rate: int = 44100) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    planar = audio[None] if audio.ndim == 1 else audio
    with AudioFile(str(path), "w", rate, planar.shape[0]) as f:
        f.write(planar)
    return path


def short_files(folder: Path, count: int, samples: int = 12_000) -> list[Path]:
    return [write(folder / f"take{i:02d}.wav", band_limited_noise(samples, seed=100 + i)) for i in range(count)]


def manifest(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / MANIFEST_NAME).read_text().splitlines()]


def outputs(folder: Path) -> dict[str, bytes]:
    """The output files (not the hidden temporaries and scratch) -> their bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*.wav"))
            if not any(part.startswith(".") for part in p.relative_to(folder).parts)}


def references(model, files: list[Path], folder: Path) -> dict[str, bytes]:
    for source in files:
        restore_file(source, folder / f"{source.stem}.wav", model)
    return outputs(folder)


def test_batch_equals_restore_with_long_files_in_segments(ray_cluster, tiny_bundle, tmp_path):
    src = tmp_path / "in"
    for i in range(3):
        write(src / "album" / f"song{i}.wav", band_limited_noise(20_000 + 3_000 * i, seed=i, channels=2))
    write(src / "long.wav", band_limited_noise(150_000, seed=7))  # 44.1 kHz WAV: segments read it directly
    write(src / "tape.flac", band_limited_noise(80_000, seed=8), rate=22050)  # resampled once, then segmented
    common = ["--model", str(tiny_bundle), "-q"]
    assert main(["batch", str(src), "-o", str(tmp_path / "batch"), "--workers", "2", "--segment-seconds", "0.3",
                 *common]) == 0
    assert main(["restore", str(src), "-o", str(tmp_path / "single"), *common]) == 0
    batch, single = outputs(tmp_path / "batch"), outputs(tmp_path / "single")
    assert sorted(batch) == ["album/song0.wav", "album/song1.wav", "album/song2.wav", "long.wav", "tape.wav"]
    assert batch == single  # byte for byte
    records = {Path(r["output"]).name: r for r in manifest(tmp_path / "batch")}
    for name in ("long.wav", "tape.wav"):
        assert records[name]["segments"] >= 5
    assert all(r["status"] == "ok" and r["output_sha256"] and r["input_sha256"] for r in records.values())
    assert not (tmp_path / "batch" / ".sagasr-batch").exists()  # the scratch folder is gone


def test_mp3_inputs_are_restored_as_restore_does_without_the_encoder_delay(ray_cluster, tiny_bundle, tmp_path):
    """An MP3 is staged, split and stitched from the samples its encoder was given (its LAME tag's delay and
    padding trimmed, at its own rate before resampling), as ``sagasr restore`` reads it."""
    src = tmp_path / "in"
    src.mkdir()
    sources = {"short": (band_limited_noise(15_000, seed=3, channels=2), 44100),
               "long": (band_limited_noise(40_000, cutoff_hz=3000.0, seed=4), 22050)}
    for name, (audio, rate) in sources.items():
        planar = audio[None] if audio.ndim == 1 else audio
        with AudioFile(str(src / f"{name}.mp3"), "w", rate, planar.shape[0], quality="V2") as f:
            f.write(planar)
    common = ["--model", str(tiny_bundle), "-q"]
    assert main(["batch", str(src), "-o", str(tmp_path / "batch"), "--workers", "2", "--segment-seconds", "0.3",
                 *common]) == 0
    assert main(["restore", str(src), "-o", str(tmp_path / "single"), *common]) == 0
    batch = outputs(tmp_path / "batch")
    assert sorted(batch) == ["long.wav", "short.wav"] and batch == outputs(tmp_path / "single")
    records = {Path(r["output"]).stem: r for r in manifest(tmp_path / "batch")}
    assert records["long"]["segments"] >= 3 and records["short"]["segments"] == 1
    for name, (audio, rate) in sources.items():
        with AudioFile(str(tmp_path / "batch" / f"{name}.wav")) as f:
            restored = f.read(f.frames)
        assert restored.shape[-1] == round(audio.shape[-1] * 44100 / rate)
        assert records[name]["duration_s"] == round(audio.shape[-1] / rate, 6)
        reference = np.atleast_2d(audio)[0] if rate == 44100 else resample(np.atleast_2d(audio), rate, 44100)[0]
        lag = np.argmax(np.correlate(restored[0], reference, "full")) - (reference.size - 1)
        assert lag == 0


@pytest.mark.parametrize("depth", [[], ["--bit-depth", "16"]])
def test_one_long_file_is_restored_on_both_workers(ray_cluster, tiny_bundle, tmp_path, depth):
    """Alone in a batch, a long file's segments go to both workers (the first two are handed out before either
    returns, so this does not hang on scheduling), and the stitched output equals ``sagasr restore``'s (a 16-bit
    output's dither included)."""
    source = write(tmp_path / "in" / "long.wav", band_limited_noise(150_000, seed=7))
    common = ["--model", str(tiny_bundle), "-q", *depth]
    assert main(["batch", str(source.parent), "-o", str(tmp_path / "batch"), "--workers", "2",
                 "--segment-seconds", "0.3", *common]) == 0
    assert main(["restore", str(source), "-o", str(tmp_path / "single.wav"), *common]) == 0
    [record] = manifest(tmp_path / "batch")
    assert record["segments"] >= 5
    assert len(record["segment_workers"]) == 2  # one file, restored on both workers
    assert (tmp_path / "batch" / "long.wav").read_bytes() == (tmp_path / "single.wav").read_bytes()
    with AudioFile(str(tmp_path / "batch" / "long.wav")) as f:
        assert f.file_dtype == ("int16" if depth else "float32")


def test_rerun_skips_complete_outputs_and_redoes_changed_ones(ray_cluster, tiny_bundle, tiny_model, tmp_path):
    files = short_files(tmp_path / "in", 3)
    out = tmp_path / "out"
    first = restore_batch([tmp_path / "in"], out, model=tiny_bundle, workers=2, progress=False)
    assert (first.restored, first.skipped) == (3, 0)
    mtimes = {p: p.stat().st_mtime_ns for p in out.glob("*.wav")}
    (out / "take01.wav").write_bytes((out / "take01.wav").read_bytes()[:-4] + b"\0\0\0\1")  # damaged after the run
    redone = []
    second = restore_batch([tmp_path / "in"], out, model=tiny_bundle, workers=2, progress=False,
                           on_record=lambda r: redone.append(Path(r["output"]).name))
    assert (second.restored, second.skipped, redone) == (1, 2, ["take01.wav"])
    assert all(p.stat().st_mtime_ns == t for p, t in mtimes.items() if p.name != "take01.wav")
    assert outputs(out) == references(tiny_model, files, tmp_path / "ref")


def test_an_input_changed_during_the_run_is_redone_by_the_rerun(ray_cluster, tiny_bundle, tiny_model, tmp_path):
    """Both files in one task, so both are restored before the first record: the second input is rewritten then.
    Its record must hold the identity it was restored from, so the rerun redoes it (it recorded the new file's size
    and mtime beside the old content's output, and the rerun skipped it)."""
    files = short_files(tmp_path / "in", 2)
    out = tmp_path / "out"

    def change_the_second_input(record: dict) -> None:
        if Path(record["output"]).name == "take00.wav":
            write(files[1], band_limited_noise(15_000, seed=999))

    restore_batch([tmp_path / "in"], out, model=tiny_bundle, workers=1, files_per_task=2, progress=False,
                  on_record=change_the_second_input)
    redone = []
    again = restore_batch([tmp_path / "in"], out, model=tiny_bundle, workers=1, progress=False,
                          on_record=lambda r: redone.append(Path(r["output"]).name))
    assert (again.restored, again.skipped, redone) == (1, 1, ["take01.wav"])
    assert outputs(out) == references(tiny_model, files, tmp_path / "ref")


def test_a_rerun_into_a_folder_inside_the_input_folder_skips_its_outputs(ray_cluster, tiny_bundle, tmp_path):
    """``sagasr batch in/ -o in/restored`` twice: the rerun finds the first run's outputs below ``in/``, skips
    them as complete, and neither refuses to run nor restores them again."""
    short_files(tmp_path / "in", 2)
    out = tmp_path / "in" / "restored"
    first = restore_batch([tmp_path / "in"], out, model=tiny_bundle, workers=2, progress=False)
    again = restore_batch([tmp_path / "in"], out, model=tiny_bundle, workers=2, progress=False)
    assert (first.restored, again.restored, again.skipped, again.failed) == (2, 0, 2, [])
    assert sorted(outputs(out)) == ["take00.wav", "take01.wav"]


def test_a_known_band_limit_restores_as_restore_does_and_a_rerun_without_it_redoes(ray_cluster, tiny_bundle, tmp_path):
    """Full-band files pass through unless told where the band ends (``--band-limit``); the limit is part of
    the settings a rerun checks, so the same folder restored without it is redone, not skipped."""
    from tests.runtime.material import drums_like

    src = tmp_path / "in"
    for i in range(2):
        write(src / f"kit{i}.wav", drums_like(0.5 + 0.25 * i, seed=i))
    common = ["--model", str(tiny_bundle), "-q"]
    limited = ["--band-limit", "3000"]
    assert main(["batch", str(src), "-o", str(tmp_path / "batch"), "--workers", "2", *limited, *common]) == 0
    assert main(["restore", str(src), "-o", str(tmp_path / "single"), *limited, *common]) == 0
    assert main(["restore", str(src), "-o", str(tmp_path / "plain"), *common]) == 0
    told, single, plain = (outputs(tmp_path / name) for name in ("batch", "single", "plain"))
    assert told == single and sorted(told) == ["kit0.wav", "kit1.wav"]
    assert all(told[name] != plain[name] for name in told)  # the limit changed what was restored
    assert all(r["settings"]["band_limit_hz"] == 3000.0 for r in manifest(tmp_path / "batch"))
    again = restore_batch([src], tmp_path / "batch", model=tiny_bundle, workers=2, progress=False)
    assert (again.restored, again.skipped) == (2, 0)
    assert outputs(tmp_path / "batch") == plain


def test_a_band_limit_outside_the_band_is_refused_before_anything_runs(tiny_bundle, tmp_path, capsys):
    from sagasr_stream.errors import ParameterError

    short_files(tmp_path / "in", 1)
    with pytest.raises(ParameterError, match="band_limit_hz"):
        restore_batch([tmp_path / "in"], tmp_path / "out", model=tiny_bundle, band_limit_hz=30000.0, progress=False)
    assert not (tmp_path / "out" / MANIFEST_NAME).exists()


def test_a_float_flac_is_refused_before_anything_runs(tiny_bundle, tmp_path):
    from sagasr_stream.errors import AudioFileError

    short_files(tmp_path / "in", 1)
    with pytest.raises(AudioFileError, match="32-bit float needs a .wav output"):
        restore_batch([tmp_path / "in"], tmp_path / "out", model=tiny_bundle, fmt="flac", bit_depth=32, progress=False)
    assert not (tmp_path / "out" / MANIFEST_NAME).exists()


def test_a_rate_flac_cannot_hold_is_refused_before_anything_runs(tiny_bundle, tmp_path):
    from sagasr_stream.errors import AudioFileError

    short_files(tmp_path / "in", 1)
    refusal = r"cannot write the \.flac outputs in \S+: FLAC holds sample rates of 1000\.\.65535 Hz, and multiples of " \
              r"10 Hz up to 655350 Hz; not 768000 Hz"
    with pytest.raises(AudioFileError, match=refusal):
        restore_batch([tmp_path / "in"], tmp_path / "out", model=tiny_bundle, fmt="flac", output_rate=768000,
                      progress=False)
    assert not (tmp_path / "out" / MANIFEST_NAME).exists()


def test_lossy_outputs_equal_restores_and_a_file_mp3_cannot_hold_is_recorded(ray_cluster, tiny_bundle, tmp_path,
                                                                            capsys):
    """``--format mp3 --quality V2``: each output (a long one stitched from segments too) is ``sagasr restore``'s
    byte for byte; a 96 kHz input, whose output would be at 96 kHz, and a 3-channel one are recorded as failed
    from their headers (never sent to a worker), naming the rates and channels MP3 holds."""
    src = tmp_path / "in"
    write(src / "short.wav", band_limited_noise(12_000, seed=1, channels=2))
    write(src / "long.wav", band_limited_noise(60_000, seed=2))
    write(src / "hi.wav", band_limited_noise(9_600, seed=3), rate=96000)
    write(src / "three.wav", band_limited_noise(4_000, seed=4, channels=3))
    common = ["--model", str(tiny_bundle), "-q", "--format", "mp3", "--quality", "V2"]
    assert main(["batch", str(src), "-o", str(tmp_path / "batch"), "--workers", "2", "--segment-seconds", "0.3",
                 *common]) == 1
    err = capsys.readouterr().err
    assert "2 restored, 0 skipped (complete), 2 failed" in err
    assert "MP3 holds sample rates of 8000, " in err and "not 96000 Hz" in err and "MP3 holds 1 or 2 channels" in err
    for name in ("short", "long"):
        assert main(["restore", str(src / f"{name}.wav"), "-o", str(tmp_path / f"{name}.mp3"), *common]) == 0
        assert (tmp_path / "batch" / f"{name}.mp3").read_bytes() == (tmp_path / f"{name}.mp3").read_bytes()
    records = {Path(r["input"]).name: r for r in manifest(tmp_path / "batch")}
    assert records["long.wav"]["segments"] >= 3 and records["long.wav"]["settings"]["quality"] == "V2"
    assert records["hi.wav"]["status"] == records["three.wav"]["status"] == "error"


def test_an_album_of_tagged_flacs_keeps_its_tags_as_restore_does(ray_cluster, tiny_bundle, tmp_path):
    """``--format flac`` of tagged FLACs (a long one stitched from segments too): each output keeps its input's
    Vorbis comments and picture, and is ``sagasr restore``'s byte for byte."""
    from mutagen.flac import FLAC, Picture

    src = tmp_path / "album"
    for track, (name, samples) in enumerate([("01", 12_000), ("02", 60_000)], 1):
        tagged = FLAC(write(src / f"{name}.flac", band_limited_noise(samples, seed=track)))
        tagged["TITLE"], tagged["TRACKNUMBER"] = f"Plage n° {track}", str(track)
        cover = Picture()
        cover.type, cover.mime, cover.data = 3, "image/png", b"\x89PNG" + bytes([track]) * 300
        tagged.add_picture(cover)
        tagged.save()
    common = ["--model", str(tiny_bundle), "-q", "--format", "flac"]
    assert main(["batch", str(src), "-o", str(tmp_path / "batch"), "--workers", "2", "--segment-seconds", "0.3",
                 *common]) == 0
    for track, name in enumerate(["01", "02"], 1):
        assert main(["restore", str(src / f"{name}.flac"), "-o", str(tmp_path / f"{name}.flac"), *common]) == 0
        out = tmp_path / "batch" / f"{name}.flac"
        assert out.read_bytes() == (tmp_path / f"{name}.flac").read_bytes()
        assert FLAC(out)["TITLE"] == [f"Plage n° {track}"] and FLAC(out).pictures[0].data[-1] == track
    assert {Path(r["input"]).name: r["segments"] for r in manifest(tmp_path / "batch")}["02.flac"] >= 3


def test_a_bad_quality_or_a_bit_depth_for_a_lossy_format_is_refused_before_anything_runs(tiny_bundle, tmp_path):
    from sagasr_stream.errors import AudioFileError, ParameterError

    short_files(tmp_path / "in", 1)
    with pytest.raises(ParameterError, match="quality for Ogg Vorbis must be one of 64, .*, 500 .*got 'V0'"):
        restore_batch([tmp_path / "in"], tmp_path / "out", model=tiny_bundle, fmt="ogg", quality="V0", progress=False)
    with pytest.raises(AudioFileError, match="MP3 is lossy and has no bit depth"):
        restore_batch([tmp_path / "in"], tmp_path / "out", model=tiny_bundle, fmt="mp3", bit_depth=16, progress=False)
    with pytest.raises(AudioFileError, match="lossless"):
        restore_batch([tmp_path / "in"], tmp_path / "out", model=tiny_bundle, fmt="flac", quality=320, progress=False)
    with pytest.raises(AudioFileError, match=r"cannot write the \.mp3 outputs in \S+: MP3 holds .* not 96000 Hz"):
        restore_batch([tmp_path / "in"], tmp_path / "out", model=tiny_bundle, fmt="mp3", output_rate=96000,
                      progress=False)
    assert not (tmp_path / "out" / MANIFEST_NAME).exists()


def test_an_infinite_segment_length_is_refused_by_name(tiny_bundle, tmp_path):
    from sagasr_stream.errors import SagasrError

    short_files(tmp_path / "in", 1)
    with pytest.raises(SagasrError, match="segment_seconds > 0 and finite"):
        restore_batch([tmp_path / "in"], tmp_path / "out", model=tiny_bundle, segment_seconds=float("inf"),
                      progress=False)


def test_damaged_inputs_are_recorded_and_the_rest_is_done(ray_cluster, tiny_bundle, tmp_path, capsys):
    short_files(tmp_path / "in", 2)
    (tmp_path / "in" / "garbage.wav").write_bytes(b"RIFF\x10\0\0\0WAVEjunk")
    good = write(tmp_path / "in" / "cut.wav", band_limited_noise(30_000))
    good.write_bytes(good.read_bytes()[:-20_000])  # the header declares more samples than the file holds
    assert main(["batch", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--model", str(tiny_bundle),
                 "--workers", "2", "--files-per-task", "4", "-q"]) == 1  # one task: the bad files must not stop it
    err = capsys.readouterr().err
    assert "2 restored, 0 skipped (complete), 2 failed" in err and "garbage.wav" in err and "cut.wav" in err
    records = {Path(r["input"]).name: r for r in manifest(tmp_path / "out")}
    assert records["cut.wav"]["status"] == "error" and "truncated" in records["cut.wav"]["error"]
    assert records["garbage.wav"]["status"] == "error"
    assert sorted(outputs(tmp_path / "out")) == ["take00.wav", "take01.wav"]


def test_a_killed_worker_is_restarted_and_nothing_is_lost(ray_cluster, tiny_bundle, tiny_model, tmp_path):
    files = short_files(tmp_path / "in", 20)
    killed = []

    def kill_first_worker(record: dict) -> None:
        if not killed:
            killed.append(int(record["worker"].rsplit(":", 1)[1]))
            os.kill(killed[0], signal.SIGKILL)

    summary = restore_batch([tmp_path / "in"], tmp_path / "out", model=tiny_bundle, workers=2, progress=False,
                            on_record=kill_first_worker)
    assert (summary.restored, summary.failed) == (20, [])
    workers = [r["worker"] for r in manifest(tmp_path / "out")]
    assert len(set(workers)) >= 3  # the killed actor was restarted in a new process
    assert sum(w.endswith(f":{killed[0]}") for w in workers) == 1  # the killed process finished nothing more
    assert outputs(tmp_path / "out") == references(tiny_model, files, tmp_path / "ref")
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]


def test_a_killed_driver_leaves_no_partial_output_and_the_rerun_resumes(ray_cluster, tiny_bundle, tiny_model, tmp_path):
    files = short_files(tmp_path / "in", 16, samples=60_000)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "sagasr_stream", "batch", str(tmp_path / "in"), "-o", str(out), "--model",
               str(tiny_bundle), "--workers", "2", "--ray-address", ray_cluster, "-q"]
    driver = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and driver.poll() is None:
            if (out / MANIFEST_NAME).is_file() and len(manifest(out)) >= 3:
                break
            time.sleep(0.05)
        assert driver.poll() is None, "the batch ended before it could be killed"
        driver.kill()
        driver.wait()
    finally:
        try:
            os.killpg(driver.pid, signal.SIGKILL)  # anything the driver started (this test's processes only)
        except ProcessLookupError:
            pass
    time.sleep(1.0)
    finished = {Path(r["output"]).name for r in manifest(out) if r["status"] == "ok"}
    assert 3 <= len(finished) < 16
    reference = references(tiny_model, files, tmp_path / "ref")
    visible = outputs(out)
    assert all(visible[name] == reference[name] for name in visible)  # every output there is complete
    assert len(visible) < 16
    noted = {json.loads(p.read_text())["output_sha256"] for p in (out / ".sagasr-batch").glob("*.done.json")}
    unrecorded = {name for name in visible if name not in finished and sha256(visible[name]) in noted}
    kept = finished | unrecorded  # finished after the driver died: the worker's note vouches for them
    mtimes = {name: (out / name).stat().st_mtime_ns for name in kept}
    restored = []
    summary = restore_batch([tmp_path / "in"], out, model=tiny_bundle, workers=2, progress=False,
                            on_record=lambda r: restored.append(Path(r["output"]).name))
    assert summary.skipped == len(kept) and summary.restored == 16 - len(kept) and not summary.failed
    assert not set(restored) & kept  # nothing finished was recomputed
    assert {name: (out / name).stat().st_mtime_ns for name in kept} == mtimes
    assert len(manifest(out)) == 16  # every file recorded exactly once over the two runs
    assert outputs(out) == reference
    assert not [p for p in out.rglob(".*") if p.is_file()]  # no partial or temporary file is left


def test_a_second_batch_into_a_folder_in_use_is_refused(tiny_bundle, tmp_path):
    """Two runs into one folder at once did every file twice, and one's stitch deleted the scratch the other was
    using (files failed with FileNotFoundError). The second is refused before anything runs; none is left behind."""
    from sagasr_stream.distributed.manifest import output_folder_lock
    from sagasr_stream.errors import SagasrError

    short_files(tmp_path / "in", 1)
    out = tmp_path / "out"
    with output_folder_lock(out):  # what a running batch holds
        with pytest.raises(SagasrError, match="another sagasr batch is writing into"):
            restore_batch([tmp_path / "in"], out, model=tiny_bundle, workers=1, progress=False)
    assert os.listdir(out) == []


def test_scratch_of_changed_inputs_and_settings_goes_with_the_next_complete_run(ray_cluster, tiny_bundle, tmp_path):
    """Segments and staged inputs of an interrupted run whose input or settings changed since were never removed
    (a long file's staged input can take gigabytes)."""
    short_files(tmp_path / "in", 2)
    out = tmp_path / "out"
    stale = out / ".sagasr-batch" / "0123456789abcdef0123"
    stale.mkdir(parents=True)
    (stale / "input-at-model-rate.wav").write_bytes(b"x" * 1000)
    (out / ".sagasr-batch" / "0123456789abcdef0123.done.json").write_text("{}")
    summary = restore_batch([tmp_path / "in"], out, model=tiny_bundle, workers=2, progress=False)
    assert summary.restored == 2 and not (out / ".sagasr-batch").exists()


@pytest.mark.parametrize("workers, threads", [(2, 3), (None, 3)])
def test_a_local_ray_has_cpus_for_every_workers_threads(tiny_bundle, tmp_path, monkeypatch, workers, threads):
    """Each worker asks Ray for ``threads`` CPUs: a local instance with fewer than workers x threads left the
    actors unschedulable and the run hung for ever (`--threads-per-worker 3` on a 2-core machine)."""
    asked: dict = {}

    class Started(Exception):
        pass

    def fake_init(**kwargs):
        asked.update(kwargs)
        raise Started

    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", fake_init)
    short_files(tmp_path / "in", 2)
    with pytest.raises(Started):
        restore_batch([tmp_path / "in"], tmp_path / "out", model=tiny_bundle, workers=workers,
                      threads_per_worker=threads, progress=False)
    assert asked["num_cpus"] >= (workers or 1) * threads


SECOND_DRIVER = """
import json, sys
from sagasr_stream.distributed import restore_batch
from sagasr_stream.errors import SagasrError

for kwargs in json.loads(sys.argv[2]):
    said = []
    try:
        summary = restore_batch(**kwargs, ray_address=sys.argv[1], progress=False, log=said.append)
        outcome = {"workers": summary.workers, "restored": summary.restored, "failed": summary.failed}
    except SagasrError as exc:
        outcome = {"error": str(exc)}
    print("OUTCOME", json.dumps(outcome | {"said": said}), flush=True)
"""


def in_a_second_driver(address: str, calls: list[dict], timeout: float) -> list[dict]:
    """Each of ``calls`` (``restore_batch`` keyword arguments) run by a driver process joined to ``address``:
    {"error": ...} or the summary's workers/restored/failed, with what it said. A driver still waiting after
    ``timeout`` s is killed and the test fails (a signal does not interrupt ``ray.get``: in this process, such a
    test hung the whole run)."""
    done = subprocess.run([sys.executable, "-c", SECOND_DRIVER, address, json.dumps(calls)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)
    outcomes = [json.loads(line.removeprefix("OUTCOME ")) for line in done.stdout.splitlines()
                if line.startswith("OUTCOME ")]
    assert done.returncode == 0 and len(outcomes) == len(calls), done.stderr[-3000:]
    return outcomes


def test_workers_no_node_can_hold_are_refused_instead_of_waited_for(ray_cluster, tiny_bundle, tmp_path):
    """On a Ray it joined (2 CPUs, no GPU), a batch whose worker asks for more CPUs or GPUs than any node has
    created the actors and waited for them for ever (workers given or not)."""
    short_files(tmp_path / "in", 2)
    asks = [(None, 3, 0.0, "3 CPUs (threads_per_worker) and 0 GPUs (gpus_per_worker)"),
            (2, 3, 0.0, "3 CPUs (threads_per_worker) and 0 GPUs (gpus_per_worker)"),
            (None, 1, 1.0, "1 CPU (threads_per_worker) and 1 GPU (gpus_per_worker)"),
            (1, 1, 0.5, "1 CPU (threads_per_worker) and 0.5 GPUs (gpus_per_worker)")]
    calls = [{"inputs": [str(tmp_path / "in")], "output": str(tmp_path / f"out{i}"), "model": str(tiny_bundle),
              "workers": workers, "threads_per_worker": threads, "gpus_per_worker": gpus}
             for i, (workers, threads, gpus, _) in enumerate(asks)]
    for i, (outcome, (*_, asked)) in enumerate(zip(in_a_second_driver(ray_cluster, calls, timeout=120), asks)):
        message = outcome.get("error", "")
        assert "but no Ray node has that" in message, outcome
        assert asked in message and "CPU 2, GPU 0" in message and "--threads-per-worker" in message
        assert not list((tmp_path / f"out{i}").iterdir())  # refused before anything was written


def test_workers_are_checked_against_each_node_not_the_cluster_totals(ray_cluster, tiny_bundle, tmp_path, monkeypatch):
    """Two nodes of 1 CPU add up to 2, but a worker of 2 threads fits on neither (a dead node does not count)."""
    nodes = [{"Alive": True, "NodeManagerAddress": "10.0.0.1", "Resources": {"CPU": 1.0, "memory": 1e9}},
             {"Alive": True, "NodeManagerAddress": "10.0.0.2", "Resources": {"CPU": 1.0}},
             {"Alive": False, "NodeManagerAddress": "10.0.0.3", "Resources": {"CPU": 8.0}}]
    monkeypatch.setattr(ray, "nodes", lambda: nodes)
    short_files(tmp_path / "in", 1)
    with pytest.raises(SagasrError, match="no Ray node has that") as error:
        restore_batch([tmp_path / "in"], tmp_path / "out", model=tiny_bundle, threads_per_worker=2, progress=False)
    assert "10.0.0.1: CPU 1, GPU 0; 10.0.0.2: CPU 1, GPU 0" in str(error.value)
    assert "10.0.0.3" not in str(error.value)


def test_more_workers_than_the_nodes_hold_run_as_many_as_fit_with_a_warning(ray_cluster, tiny_bundle, tmp_path):
    """--workers 3 on 2 CPUs: the third actor was never placed and the run waited for it for ever."""
    short_files(tmp_path / "in", 3)
    call = {"inputs": [str(tmp_path / "in")], "output": str(tmp_path / "out"), "model": str(tiny_bundle), "workers": 3}
    [outcome] = in_a_second_driver(ray_cluster, [call], timeout=180)
    assert (outcome.get("workers"), outcome.get("restored"), outcome.get("failed")) == (2, 3, []), outcome
    assert any("3 workers asked for, but the Ray nodes hold 2" in line for line in outcome["said"]), outcome


def test_workers_waiting_for_cpus_other_jobs_hold_are_reported_until_they_start(ray_cluster, tiny_bundle, tmp_path,
                                                                               monkeypatch):
    """A worker that fits a node but whose CPUs another Ray job holds starts once they are freed; meanwhile the
    wait is reported (it was silent: a run could not tell a busy cluster from a hung one)."""
    import threading

    from sagasr_stream.distributed import runner

    monkeypatch.setattr(runner, "START_REPORT_S", 0.5)

    @ray.remote(num_cpus=1)
    class Busy:
        def ready(self) -> bool:
            return True

    busy = Busy.remote()
    ray.get(busy.ready.remote())  # holds 1 of the 2 CPUs: the worker of 2 threads fits the node, but must wait
    freed = threading.Timer(3.0, ray.kill, [busy])
    freed.start()
    short_files(tmp_path / "in", 1)
    said: list[str] = []
    try:
        summary = restore_batch([tmp_path / "in"], tmp_path / "out", model=tiny_bundle, threads_per_worker=2,
                                progress=False, log=said.append)
    finally:
        freed.join()
    assert (summary.workers, summary.restored) == (1, 1)
    assert any(line.startswith("waiting for 1 of 1 workers to start") for line in said), said


def test_more_workers_start_where_the_alive_nodes_hold_more_than_were_started():
    """The count the run polls while files remain: what the alive nodes hold (node by node, as at the start), up to
    the workers asked for, less those already started (a dead node's are not replaced), at most one per task waiting."""
    from sagasr_stream.distributed.runner import _more_workers

    def node(cpus: float, gpus: float = 0.0, alive: bool = True) -> dict:
        return {"Alive": alive, "NodeManagerAddress": "10.0.0.9", "Resources": {"CPU": cpus, "GPU": gpus}}

    grown = [node(2), node(4)]
    assert _more_workers(grown, 1, 0.0, started=2, asked=None, waiting=10) == 4  # a node of 4 CPUs joined
    assert _more_workers(grown, 1, 0.0, started=2, asked=3, waiting=10) == 1  # up to --workers
    assert _more_workers(grown, 1, 0.0, started=2, asked=None, waiting=3) == 3  # one per task waiting
    assert _more_workers(grown, 1, 0.0, started=2, asked=None, waiting=0) == 0
    assert _more_workers(grown, 2, 0.0, started=2, asked=None, waiting=10) == 1  # 2 threads: 1 + 2 fit
    assert _more_workers(grown + [node(2, 1)], 1, 0.5, started=1, asked=None, waiting=10) == 1  # only it has GPUs
    assert _more_workers([node(2), node(4, alive=False)], 1, 0.0, started=6, asked=None, waiting=10) == 0
    assert _more_workers([node(1, alive=False)], 1, 0.0, started=1, asked=None, waiting=10) == 0  # none alive: no error


RECORD_PAUSE_S = 1.0  # how long the growth tests' driver pauses per file restored while one worker has restored
# (0.3 s: 24 files gave a new worker 7 s to start, which a loaded 2-core machine once overran: one worker did all)


def until_a_second_worker_restores() -> Callable[[dict], None]:
    """An ``on_record`` that holds the driver RECORD_PAUSE_S per file until a second worker has restored one: the
    first worker gets no new task meanwhile, so the files cannot run out before the new worker's model is loaded
    (without it, the growth tests depended on how fast a machine starts a worker)."""
    workers: set[str] = set()

    def pause(record: dict) -> None:
        workers.add(record["worker"])
        if len(workers) < 2:
            time.sleep(RECORD_PAUSE_S)

    return pause


def test_workers_start_on_capacity_that_appears_while_files_remain(ray_cluster, tiny_bundle, tiny_model, tmp_path,
                                                                  monkeypatch):
    """A node still joining when the run starts (the nodes hold 1 worker then, 2 afterwards): the run was sized
    once at the start and never used it. Now the driver's loop polls the nodes and starts a second worker, which
    gets tasks like the first; the outputs do not depend on which worker restored them."""
    from sagasr_stream.distributed import runner

    real_nodes = ray.nodes
    counts = []

    def joining_nodes() -> list[dict]:
        counts.append(1)
        if len(counts) == 1:  # the count at the start: one node of 1 CPU
            return [{"Alive": True, "NodeManagerAddress": "10.0.0.1", "Resources": {"CPU": 1.0}}]
        return real_nodes()  # the 2 CPUs of this module's Ray

    monkeypatch.setattr(runner, "NODE_POLL_S", 0.2)
    monkeypatch.setattr(ray, "nodes", joining_nodes)
    files = short_files(tmp_path / "in", 24, samples=120_000)
    said: list[str] = []
    summary = restore_batch([tmp_path / "in"], tmp_path / "out", model=tiny_bundle, progress=False, log=said.append,
                            on_record=until_a_second_worker_restores())
    assert (summary.workers, summary.restored, summary.failed) == (2, 24, []), said
    assert "1 more worker starting on Ray nodes that joined: 2 in all" in said, said
    assert len({r["worker"] for r in manifest(tmp_path / "out")}) == 2  # both restored files
    assert outputs(tmp_path / "out") == references(tiny_model, files, tmp_path / "ref")


GROWING_CLUSTER = """
import json, os, sys, time

os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
import ray
from ray.cluster_utils import Cluster
from sagasr_stream.distributed import restore_batch, runner

runner.NODE_POLL_S = 0.2
cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
joined, workers = [], set()

def a_node_joins(record):
    workers.add(record["worker"])
    if not joined:  # after the first file, the run under way on one worker (which goes on with its tasks meanwhile)
        joined.append(cluster.add_node(num_cpus=1))
    elif len(workers) < 2:  # the driver hands out no task meanwhile: the first worker cannot finish every file
        time.sleep(float(sys.argv[2]))

said = []
try:
    summary = restore_batch(**json.loads(sys.argv[1]), ray_address=cluster.address, progress=False,
                            log=said.append, on_record=a_node_joins)
    print("OUTCOME", json.dumps({"workers": summary.workers, "restored": summary.restored,
                                 "failed": summary.failed, "said": said}), flush=True)
finally:
    ray.shutdown()
    cluster.shutdown()
"""


def test_workers_start_on_a_node_that_joins_the_cluster_during_the_run(tiny_bundle, tiny_model, tmp_path):
    """A real Ray cluster of one node (1 CPU) that a second node joins after the first file: --workers 2 ran one
    worker (with a warning) to the end; now the second starts on the new node and restores files too. In a driver
    process of its own (its own cluster), killed with what it started if it hangs."""
    files = short_files(tmp_path / "in", 40, samples=120_000)
    call = {"inputs": [str(tmp_path / "in")], "output": str(tmp_path / "out"), "model": str(tiny_bundle), "workers": 2}
    driver = subprocess.Popen([sys.executable, "-c", GROWING_CLUSTER, json.dumps(call), str(RECORD_PAUSE_S)], cwd=ROOT,
                              text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        stdout, stderr = driver.communicate(timeout=150)
    finally:
        try:
            os.killpg(driver.pid, signal.SIGKILL)  # the driver and the cluster it started, if still there
        except ProcessLookupError:
            pass
    printed = [line.removeprefix("OUTCOME ") for line in stdout.splitlines() if line.startswith("OUTCOME ")]
    outcome = json.loads(printed[0]) if printed else {"stderr": stderr[-3000:]}
    assert (outcome.get("workers"), outcome.get("restored"), outcome.get("failed")) == (2, 40, []), outcome
    assert any("2 workers asked for, but the Ray nodes hold 1" in line for line in outcome["said"]), outcome
    assert "1 more worker starting on Ray nodes that joined: 2 in all" in outcome["said"], outcome
    assert len({r["worker"] for r in manifest(tmp_path / "out")}) == 2  # the new node's worker restored files
    assert outputs(tmp_path / "out") == references(tiny_model, files, tmp_path / "ref")
