"""The runtime package ships ``py.typed``, so a user's type checker reads its annotations: ``python -m mypy`` from
the repository root (its settings: ``[tool.mypy]`` in pyproject.toml, which checks ``sagasr_stream``) must find
no error. mypy is a test dependency (the ``dev`` extra, tests/install.sh): a missing one fails here."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_mypy_finds_no_error_in_the_runtime_package(tmp_path: Path) -> None:
    # a fresh cache each run: a result left by an earlier run cannot hide an error
    result = subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "mypy_cache")],
                            cwd=ROOT, capture_output=True, text=True, timeout=900)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"python -m mypy (in {ROOT}) exited {result.returncode}:\n{output}"
    assert "no issues found" in output, output
