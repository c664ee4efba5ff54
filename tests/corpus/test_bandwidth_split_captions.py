"""Bandwidth check on synthetic signals, the split, captions and GM remapping."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from sagasr_training.corpus.bandwidth import measure
from sagasr_training.corpus.captions import clean_instrument_name, drum_caption, midi_caption
from sagasr_training.corpus.gm import program_map
from sagasr_training.corpus.split import assign_split

SR = 44100


def noise(seconds=1.0, seed=0):
    return np.random.default_rng(seed).standard_normal(int(seconds * SR)) * 0.1


def lowpass(x, cutoff):
    return signal.sosfiltfilt(signal.ellip(10, 0.1, 100, cutoff / (SR / 2), output="sos"), x)


def test_full_band_noise_passes():
    bw = measure(noise(), SR)
    assert bw.ok and abs(bw.drop_db) < 3 and bw.bandwidth_hz > 21000


def test_band_limited_signal_is_dropped_and_its_bandwidth_measured():
    bw = measure(lowpass(noise(), 8000), SR)
    assert not bw.ok and bw.drop_db > 60
    assert 7500 < bw.bandwidth_hz < 9000


def test_threshold_is_60_db_between_top_and_reference_bands():
    x = noise(seed=1)
    top = x - lowpass(x, 15000)  # the part above 15 kHz
    base = lowpass(x, 15000)
    assert measure(base + top * 10 ** (-50 / 20), SR).ok  # top band 50 dB down: kept
    assert not measure(base + top * 10 ** (-70 / 20), SR).ok  # 70 dB down: dropped
    assert not measure(np.zeros(SR), SR).ok  # silence has no top band


def test_split_is_deterministic_and_depends_on_seed():
    groups = [f"music21:piece{i}" for i in range(200)] + [f"kit:k{i}" for i in range(15)]
    a = assign_split(groups, seed=3, validation_fraction=0.1)
    assert a == assign_split(list(reversed(groups)), seed=3, validation_fraction=0.1)
    assert a != assign_split(groups, seed=4, validation_fraction=0.1)
    share = sum(v == "validation" for v in a.values()) / len(a)
    assert 0.04 < share < 0.18
    # a group's split does not change when other groups are added
    more = assign_split(groups + [f"mma:{i}" for i in range(50)], seed=3, validation_fraction=0.1)
    assert all(more[g] == a[g] for g in groups)


def test_split_always_has_both_sides():
    for seed in range(20):
        s = assign_split(["kit:a", "kit:b"], seed, 0.1)
        assert sorted(s.values()) == ["train", "validation"]
    # per kind: two kits and many pieces -> one kit in validation whatever the hashes say
    s = assign_split(["kit:a", "kit:b"] + [f"music21:{i}" for i in range(30)], 0, 0.01)
    assert sorted(v for g, v in s.items() if g.startswith("kit:")) == ["train", "validation"]
    assert {v for g, v in s.items() if g.startswith("music21:")} == {"train", "validation"}
    with pytest.raises(ValueError, match="validation fraction"):
        assign_split(["a"], 0, 1.5)


def test_captions():
    assert midi_caption([40, 42], True, 95.6, "bach piece") == "Violin, cello and drums, 96 BPM, bach piece"
    assert midi_caption([], False, 120, "") == "Silence, 120 BPM"
    cap = drum_caption("BJA", ["Kick", "Snare", "Kick"], 120.2, "groove")
    assert cap == "Drum groove on the BJA kit: kick and snare, 120 BPM"
    strum = drum_caption("Strums", ["bbmajor f4", "g#min / e2-b6", "A#min7b5  \\ B7"], 90, "strums")
    assert strum == "Acoustic guitar strums on the Strums kit: Bb major, G# min and A# min7b5, 90 BPM"
    assert clean_instrument_name("**f#min7b5 g7") == "F# min7b5"


def test_program_map_prefers_same_family():
    m = program_map([2, 6, 40, 42, 81])
    assert m[0] == 2 and m[2] == 2 and m[41] == 40 and m[43] == 42
    assert m[80] == 81 and m[127] == 81  # no sound effect left: nearest overall
    with pytest.raises(ValueError):
        program_map([])
