#!/usr/bin/env bash
# Install what the corpus builder renders from (Debian/Ubuntu, as root or with sudo).
# Debian packages: the fluidsynth CLI, the FluidR3 GM bank (uncompressed SF2), openmsx MIDI files,
# mma (accompaniment generator), the Hydrogen drum kits and other sound banks. PyPI: music21 (its corpus ships with it).
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends \
    fluidsynth fluid-soundfont-gm openttd-openmsx mma hydrogen-drumkits hydrogen-drumkits-effects
# the other banks: v3.6's fine-tune (MuseScore General, csound GM) and the generalisation sets (TimGM6mb, AVL kits;
# benchmarks/generalisation.md)
$SUDO apt-get install -y --no-install-recommends \
    musescore-general-soundfont-lossless csound-soundfont timgm6mb-soundfont avldrums.lv2-soundfont
python -m pip install "music21>=9"
