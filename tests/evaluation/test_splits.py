"""Fixed, named tuning/test splits of the evaluation clips."""
from __future__ import annotations

import pytest

from sagasr_stream.evaluation.splits import TUNING_FRACTION, select_split, split_listing, split_of

SHIPPED = ["000022_00", "000022_05", "000025_04", "000047_00", "000047_05", "000057_03", "000081_01", "000088_03",
           "000098_02", "000113_04", "000117_03", "000132_00", "000136_01", "000149_03", "000152_02", "000164_04",
           "000169_01"]  # tests/data/validation_clips


def test_split_is_deterministic_disjoint_and_covers_every_clip():
    names = [f"clip{i:04d}" for i in range(400)]
    listing = split_listing(names)
    assert set(listing["tuning"]) & set(listing["test"]) == set()
    assert sorted(listing["tuning"] + listing["test"]) == sorted(names)
    assert split_listing(list(reversed(names))) == {k: list(reversed(v)) for k, v in listing.items()}
    assert abs(len(listing["tuning"]) / len(names) - TUNING_FRACTION) < 0.07


def test_split_of_the_shipped_validation_clips_is_pinned():
    # golden: changing the rule would silently move clips between tuning and test
    assert split_listing(SHIPPED)["tuning"] == ["000117_03", "000149_03", "000164_04", "000169_01"]


def test_select_split_keeps_order_and_refuses_an_empty_or_unknown_split():
    clips = {name: i for i, name in enumerate(SHIPPED)}
    test = select_split(clips, "test")
    assert list(test) == [n for n in SHIPPED if split_of(n) == "test"]
    assert select_split(clips, "all") == clips
    with pytest.raises(ValueError, match="no clip of the 'tuning' split"):
        select_split({"000022_00": 0}, "tuning")
    with pytest.raises(ValueError, match="unknown split"):
        select_split(clips, "dev")
