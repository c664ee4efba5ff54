"""The non-live examples run as written (tiny bundle, short synthetic inputs)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pedalboard.io import AudioFile

from tests.conftest import band_limited_noise

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(autouse=True)
def scratch_tmpdir(tmp_path, monkeypatch):
    """The examples write their synthetic inputs under the temporary folder and keep them (for listening):
    here that is this test's own folder, so that a test run leaves nothing behind in the system's /tmp."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))


def run(script: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run an example with this checkout's sagasr_stream first on the path (not another installed copy)."""
    root = str(EXAMPLES.parent)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, *filter(None, [os.environ.get("PYTHONPATH")])]))
    result = subprocess.run([sys.executable, str(EXAMPLES / script), *args], capture_output=True, text=True,
                            timeout=120, env=env, cwd=cwd)
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def frames(path: Path) -> tuple[int, float]:
    with AudioFile(str(path)) as f:
        return f.frames, f.samplerate


@pytest.mark.parametrize("script, seconds, rate", [
    ("restore_long_file.py", 3, 16000), ("pedalboard_chain.py", 1, 44100), ("export_and_use.py", 1, 22050),
])
def test_example_runs_on_a_synthetic_input(tiny_bundle, tmp_path, script, seconds, rate):
    out = tmp_path / "out.wav"
    extra = ["--bundle-dir", str(tmp_path / "exported")] if script == "export_and_use.py" else []
    result = run(script, "-o", str(out), "--model", str(tiny_bundle), "--seconds", str(seconds), *extra, cwd=tmp_path)
    assert "synthetic" in result.stdout
    assert frames(out) == (round(seconds * 44100), 44100.0)
    # the synthetic input goes to a temporary folder of its own: not beside the output, not into the cwd
    assert not list(tmp_path.glob("synthetic_input*"))
    written = Path(result.stdout.split("wrote synthetic band-limited input ")[1].split(" (")[0])
    assert written.is_file() and written.parent.name.startswith("sagasr-example-input-")


@pytest.mark.parametrize("script", ["restore_long_file.py", "pedalboard_chain.py", "export_and_use.py"])
@pytest.mark.parametrize("args, message", [
    (["--seconds", "0"], "error: --seconds must be at least 0.1 (the synthetic input's length), got 0"),
    (["no_such_file.wav"], "error: input file no_such_file.wav does not exist or is not a file"),
])
def test_a_bad_input_or_length_is_one_error_line_not_a_traceback(tiny_bundle, tmp_path, script, args, message):
    root = str(EXAMPLES.parent)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, *filter(None, [os.environ.get("PYTHONPATH")])]))
    result = subprocess.run([sys.executable, str(EXAMPLES / script), *args, "-o", str(tmp_path / "o.wav"),
                             "--model", str(tiny_bundle)], capture_output=True, text=True, timeout=120, env=env,
                            cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.strip() == message


def test_examples_do_not_share_their_synthetic_input(tiny_bundle, tmp_path):
    inputs = []
    for script in ("restore_long_file.py", "pedalboard_chain.py"):
        result = run(script, "-o", str(tmp_path / f"{script}.wav"), "--model", str(tiny_bundle), "--seconds", "1")
        inputs.append(result.stdout.split("wrote synthetic band-limited input ")[1].split(" (")[0])
    assert inputs[0] != inputs[1]


def test_example_without_model_uses_the_embedded_default_model(tmp_path):
    source = tmp_path / "in.wav"
    with AudioFile(str(source), "w", 44100, 1) as f:
        f.write(band_limited_noise(5000)[None])
    result = run("pedalboard_chain.py", str(source), "-o", str(tmp_path / "out.wav"))
    assert "tiny UNTRAINED test bundle" not in result.stderr
    assert frames(tmp_path / "out.wav")[0] == frames(source)[0]


def test_the_chain_example_keeps_a_48_khz_session_at_48_khz(tiny_bundle, tmp_path):
    source = tmp_path / "in48.wav"
    with AudioFile(str(source), "w", 48000, 2, bit_depth=32) as f:
        f.write(band_limited_noise(30000, channels=2))
    run("pedalboard_chain.py", str(source), "-o", str(tmp_path / "out.wav"), "--model", str(tiny_bundle))
    assert frames(tmp_path / "out.wav") == (30000, 48000.0)


def test_export_and_use_exports_when_the_exporter_is_available(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("sagasr_export.exporter")
    out = tmp_path / "out.wav"
    result = run("export_and_use.py", "-o", str(out), "--bundle-dir", str(tmp_path / "bundle"), "--seconds", "0.5")
    assert "exported tiny.json" in result.stdout and (tmp_path / "bundle" / "manifest.json").is_file()
    assert frames(out) == (round(0.5 * 44100), 44100.0)


def test_live_example_starts():
    """The live example needs a sound card to run; here it must at least import and parse its options."""
    result = run("live_audio.py", "--help")
    assert "--headroom" in result.stdout and "--input-device" in result.stdout


def test_the_live_example_takes_the_rate_and_the_stereo_mode(tiny_bundle, tmp_path, monkeypatch):
    """``--rate`` and ``--stereo`` (options of ``sagasr live`` the example parses) reach the devices and the
    effect: they were parsed and ignored (the devices opened at 44.1 kHz, the stereo mode the default).
    A stand-in sounddevice module records what the example opens."""
    (tmp_path / "sounddevice.py").write_text(
        "import json, numpy as np\n"
        "class Stream:\n"
        "    latency = 0.0\n"
        "    def __init__(self, **kw):\n"
        "        self.kw = kw\n"
        "        print('OPENED', json.dumps({'rate': kw['samplerate'], 'channels': kw['channels']}), flush=True)\n"
        "    def start(self):\n"
        "        live = self.kw['callback'].__self__\n"
        "        print('STEREO', live.effect.restorer.settings.stereo, flush=True)\n"
        "    def stop(self): pass\n"
        "    def close(self): pass\n"
    )
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), *filter(None, [os.environ.get("PYTHONPATH")])]))
    result = run("live_audio.py", "--model", str(tiny_bundle), "--rate", "48000", "--channels", "2",
                 "--stereo", "mono", "--duration", "0.05")
    assert 'OPENED {"rate": 48000, "channels": 2}' in result.stdout and "STEREO mono" in result.stdout


def test_the_chain_example_writes_into_a_folder_that_does_not_exist_yet(tiny_bundle, tmp_path):
    """``-o new/out.wav``: the other examples (restore_file) make the folder; this one restored the whole file, then
    failed with pedalboard's 'Unable to open audio file for writing' and a traceback, the work lost."""
    out = tmp_path / "new" / "sub" / "out.wav"
    run("pedalboard_chain.py", "-o", str(out), "--model", str(tiny_bundle), "--seconds", "0.5")
    assert frames(out) == (round(0.5 * 44100), 44100.0)


@pytest.mark.parametrize("args, message", [
    (["--rate", "22050"], "22050 Hz"), (["--block-size", "0"], "block_size must be a positive integer"),
    (["--headroom", "10"], "headroom must be at least one block"), (["--provider", "gpu"], "provider must be"),
])
def test_the_live_example_refuses_bad_options_as_sagasr_live_does(tiny_bundle, tmp_path, args, message):
    """The example is 'the same as sagasr live': a bad option is one 'error: ...' line and exit 2, not a traceback
    (exit 1) as it was for every check after the sounddevice import."""
    (tmp_path / "sounddevice.py").write_text(
        "class Stream:\n"
        "    def __init__(self, **kw): pass\n"
        "    def start(self): pass\n"
        "    def stop(self): pass\n"
        "    def close(self): pass\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), str(EXAMPLES.parent),
                                                       *filter(None, [os.environ.get("PYTHONPATH")])]))
    result = subprocess.run([sys.executable, str(EXAMPLES / "live_audio.py"), "--model", str(tiny_bundle), *args,
                             "--duration", "0.05"], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr and result.stderr.startswith("error: ") and message in result.stderr


def test_make_example_audio_reproduces_the_committed_example(tmp_path):
    out = tmp_path / "example.flac"
    run("make_example_audio.py", "--out", str(out))
    with AudioFile(str(out)) as made, AudioFile(str(EXAMPLES / "audio" / "example_16k.flac")) as committed:
        assert (made.samplerate, made.num_channels) == (committed.samplerate, committed.num_channels) == (16000, 1)
        assert (made.read(made.frames) == committed.read(committed.frames)).all()
