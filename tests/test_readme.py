"""The README's first Python snippet runs as written (embedded default model, from the repository root)."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def first_python_snippet() -> str:
    return re.search(r"```python\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S).group(1)


def test_first_snippet_loads_the_embedded_model_first():
    code = first_python_snippet()
    assert code.index("ss.SagaSRModel.load()") < code.index("path/to/bundle")


def test_first_snippet_runs_as_written(tmp_path):
    if not (ROOT / "sagasr_stream" / "models" / "default" / "manifest.json").is_file():
        pytest.skip("no embedded default model in this checkout")
    (tmp_path / "examples" / "audio").mkdir(parents=True)  # the snippet's paths, relative to a repository root
    shutil.copy(ROOT / "examples" / "audio" / "example_16k.flac", tmp_path / "examples" / "audio")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, "-c", first_python_snippet()], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "restored.wav").is_file() and int(result.stdout.strip()) > 0
