"""Type checking of all three packages: ``python -m mypy`` from the repository root (its settings: ``[tool.mypy]``
in pyproject.toml) checks the runtime package ``sagasr_stream`` (it ships ``py.typed``, so a user's type checker
reads its annotations), the export package ``sagasr_export`` (export/) and the training package
``sagasr_training`` (training/, both through the links in tests/mypy_path/), and must find no error. mypy is a test
dependency (the ``dev`` extra, tests/install.sh): a missing one fails here."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: the folders of the three packages (sagasr_stream, sagasr_export, sagasr_training)
FOLDERS = ("sagasr_stream", "export", "training")


def test_mypy_finds_no_error_in_the_runtime_export_and_training_packages(tmp_path: Path) -> None:
    # a fresh cache each run: a result left by an earlier run cannot hide an error
    result = subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "mypy_cache")],
                            cwd=ROOT, capture_output=True, text=True, timeout=900)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"python -m mypy (in {ROOT}) exited {result.returncode}:\n{output}"
    checked = re.search(r"no issues found in (\d+) source files", output)
    assert checked, output
    # every module of the three packages was checked (mypy also counts their data folders, as namespace packages)
    modules = sum(len(list((ROOT / folder).rglob("*.py"))) for folder in FOLDERS)
    assert int(checked.group(1)) >= modules, f"mypy checked {checked.group(1)} files, the packages hold {modules}"
