"""Offline training-corpus builder: MIDI through a vetted SF2 bank (fluidsynth) and Hydrogen drum kits,
cut into 44.1 kHz clips with a real top band, with captions, a manifest and a train/validation split.

Usage: ``python -m sagasr_training.corpus build --out DIR --hours H --seed S --workers N``.
"""
