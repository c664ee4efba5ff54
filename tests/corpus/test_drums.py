"""Hydrogen kit parsing, sample vetting and the pattern sequencer, on synthetic kits in tmp_path."""
from __future__ import annotations

import numpy as np
import pytest

from sagasr_training.corpus.drums import KitError, choose_layer, parse_kit, render_hits, role_of, sequence, vet_kit


def test_parse_kit_reads_layers_and_skips_missing(kit_xml):
    kit = parse_kit(kit_xml)
    names = [i.name for i in kit.instruments]
    assert names == ["Kick", "Snare", "Hi Hat Closed", "Dull Tom", "Lo-fi Clap"]
    assert [i.role for i in kit.instruments] == ["kick", "snare", "hihat_closed", "tom", "clap"]
    assert len(kit.instruments[0].layers) == 2 and kit.instruments[1].gain == pytest.approx(0.8)
    assert [p.rsplit("/", 1)[-1] for p in kit.missing] == ["missing.wav"]
    assert choose_layer(kit.instruments[0], 0.2).path.name == "kick_soft.wav"
    assert choose_layer(kit.instruments[0], 0.9).path.name == "kick_hard.wav"


def test_vet_kit_drops_band_limited_and_low_rate_files(kit_xml):
    kit, records = vet_kit(parse_kit(kit_xml))
    assert [i.name for i in kit.instruments] == ["Kick", "Snare", "Hi Hat Closed"]
    reasons = {r["file"].rsplit("/", 1)[-1]: r["reason"] for r in records if not r["kept"]}
    assert reasons == {"dull.wav": "no top band", "lofi.wav": "sample rate 22050 < 44100"}


def test_bad_xml_is_named(tmp_path):
    (tmp_path / "drumkit.xml").write_text("<drumkit_info><name>x</name>")
    with pytest.raises(KitError, match="drumkit.xml"):
        parse_kit(tmp_path / "drumkit.xml")


def test_sequencer_is_deterministic_and_musical(kit_xml):
    kit, _ = vet_kit(parse_kit(kit_xml))
    hits, bpm, style = sequence(kit, 6.0, np.random.default_rng(5))
    again = sequence(kit, 6.0, np.random.default_rng(5))
    assert (hits, bpm, style) == again
    assert style == "groove" and 70 <= bpm <= 170
    assert all(0 <= h.time_s < 6.0 and 0 < h.velocity <= 1 for h in hits)
    used = {kit.instruments[h.instrument].role for h in hits}
    assert {"kick", "snare", "hihat_closed"} <= used
    # the snare lands on beats 2 and 4 of each bar (within humanisation and swing)
    beat = 60 / bpm
    snare = [h.time_s for h in hits if kit.instruments[h.instrument].role == "snare" and h.velocity > 0.6]
    phase = [(t / beat) % 2 for t in snare]
    assert all(abs(p - 1) < 0.2 for p in phase)


def test_render_hits_places_samples_at_hit_times(kit_xml):
    kit, _ = vet_kit(parse_kit(kit_xml))
    from sagasr_training.corpus.drums import Hit

    audio = render_hits(kit, [Hit(0.5, 0, 1.0), Hit(1.25, 1, 0.5)], 2.0)
    assert audio.shape == (88200,)
    assert np.abs(audio[: int(0.5 * 44100) - 5]).max() == 0
    onset = np.argmax(np.abs(audio) > 1e-4)
    assert abs(onset - 0.5 * 44100) <= 2
    second = int(1.25 * 44100)
    before = np.abs(audio[second - 2000 : second - 10]).max()
    after = np.abs(audio[second : second + 2000]).max()
    assert after > 3 * before


def test_non_drum_kits_get_percussion_or_strum_patterns(kit_xml):
    kit, _ = vet_kit(parse_kit(kit_xml))
    perc = type(kit)(kit.name, kit.folder, [i for i in kit.instruments if i.role != "kick"])
    assert sequence(perc, 4.0, np.random.default_rng(1))[2] == "percussion"
    strums = type(kit)("Guitar Strums", kit.folder, kit.instruments)
    hits, _, style = sequence(strums, 4.0, np.random.default_rng(1))
    assert style == "strums" and hits
    assert role_of("Open HiHat") == "hihat_open" and role_of("Bass Drum 2") == "kick"
