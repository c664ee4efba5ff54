#!/usr/bin/env bash
# Everything the test suite needs on a fresh machine: the export/training stack (torch, stable-audio-tools,
# Lightning: export/install.sh), the runtime's dev extras (pytest, onnx, matplotlib, mypy: tests/test_typing.py and the public API's type test; mutagen: tests/runtime/test_tags.py), Ray (sagasr batch's tests), and the fluidsynth
# command line for the corpus builder's render test (Debian package; needs root or sudo).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python}"
bash "$ROOT/export/install.sh"
"$PY" -m pip install -e "$ROOT[dev,eval,text,ray]"
if ! command -v fluidsynth >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends fluidsynth
fi
