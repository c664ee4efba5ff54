"""SF2 reader/writer, rate check and pruning on synthesized banks."""
from __future__ import annotations

import json
import struct

import pytest

from sagasr_training.corpus.cli import main
from sagasr_training.corpus.sf2 import SF2Error, preset_rates, prune, read_sf2, sine_bank, write_sf2

RATES = {(0, 0): 32000, (0, 1): 44100, (0, 40): 48000, (128, 0): 44100, (8, 4): 22050}


def test_round_trip_keeps_presets_rates_and_samples(tmp_path):
    font = sine_bank(RATES, seconds=0.1)
    path = write_sf2(font, tmp_path / "bank.sf2")
    back = read_sf2(path)
    assert [(p.bank, p.program, p.name) for p in back.presets] == [(p.bank, p.program, p.name) for p in font.presets]
    assert [s.sample_rate for s in back.samples] == [s.sample_rate for s in font.samples]
    assert [s.data for s in back.samples] == [s.data for s in font.samples]
    assert [(s.loop_start, s.loop_end) for s in back.samples] == [(s.loop_start, s.loop_end) for s in font.samples]
    assert back.version == (2, 1)


def test_preset_rates_flags_low_rate_presets(tmp_path):
    back = read_sf2(write_sf2(sine_bank(RATES, seconds=0.05), tmp_path / "bank.sf2"), with_data=False)
    verdict = {(r.bank, r.program): (r.rates, r.ok(44100)) for r in preset_rates(back)}
    assert verdict == {(0, 0): ((32000,), False), (0, 1): ((44100,), True), (0, 40): ((48000,), True),
                       (8, 4): ((22050,), False), (128, 0): ((44100,), True)}


def test_preset_with_one_low_rate_sample_is_dropped(tmp_path):
    font = sine_bank({(0, 0): 44100, (0, 1): 22050}, seconds=0.05)
    # preset 0 also plays instrument 1 (the 22.05 kHz sample) in a second zone
    font.presets[0].zones.append(font.presets[1].zones[0])
    rates = {(r.bank, r.program): r for r in preset_rates(font)}
    assert rates[(0, 0)].rates == (22050, 44100) and not rates[(0, 0)].ok(44100)


def test_prune_keeps_only_passing_presets_and_their_samples(tmp_path):
    font = sine_bank(RATES, seconds=0.05)
    keep = {(r.bank, r.program) for r in preset_rates(font) if r.ok(44100)}
    pruned = read_sf2(write_sf2(prune(font, keep), tmp_path / "pruned.sf2"))
    assert {(p.bank, p.program) for p in pruned.presets} == keep
    assert len(pruned.instruments) == len(pruned.samples) == 3
    assert all(r.ok(44100) for r in preset_rates(pruned))
    # each kept preset still reaches its own sample data
    originals = {(p.bank, p.program): font.samples[font.preset_samples(p)[0]].data for p in font.presets}
    for p in pruned.presets:
        assert pruned.samples[pruned.preset_samples(p)[0]].data == originals[(p.bank, p.program)]
    assert (tmp_path / "pruned.sf2").stat().st_size < write_sf2(font, tmp_path / "full.sf2").stat().st_size


def test_malformed_files_raise_clear_errors(tmp_path):
    bad = tmp_path / "bad.sf2"
    bad.write_bytes(b"RIFF\x04\x00\x00\x00WAVE")
    with pytest.raises(SF2Error, match="bad.sf2.*not a SoundFont"):
        read_sf2(bad)
    good = write_sf2(sine_bank({(0, 0): 44100}, seconds=0.05), tmp_path / "good.sf2").read_bytes()
    # corrupt the shdr chunk size so it is not a multiple of 46 bytes
    pos = good.index(b"shdr")
    size = struct.unpack_from("<I", good, pos + 4)[0]
    broken = good[: pos + 4] + struct.pack("<I", size - 1) + good[pos + 8 :]
    (tmp_path / "broken.sf2").write_bytes(broken)
    with pytest.raises(SF2Error, match="broken.sf2"):
        read_sf2(tmp_path / "broken.sf2")


def test_check_sf2_cli_lists_and_prunes(tmp_path, capsys):
    bank = write_sf2(sine_bank(RATES, seconds=0.05), tmp_path / "bank.sf2")
    assert main(["check-sf2", str(bank), "--json", "--write-pruned", str(tmp_path / "p.sf2")]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert sum(e["ok"] for e in listed) == 3 and len(listed) == 5
    assert {(p.bank, p.program) for p in read_sf2(tmp_path / "p.sf2").presets} == {(0, 1), (0, 40), (128, 0)}
    assert main(["check-sf2", str(tmp_path / "nope.sf2")]) == 2
