"""Segments of a long file, restored apart and concatenated, equal the single-process restore bit for bit
(no Ray: the arithmetic alone)."""
from __future__ import annotations

import numpy as np
import pytest

from sagasr_stream.bandlimit import window_limits
from sagasr_stream.distributed.segments import plan_segments, restore_segment
from sagasr_stream.restorer import Restorer, offline_windows_per_call
from sagasr_stream.settings import RestoreSettings
from tests.conftest import band_limited_noise


@pytest.mark.parametrize("channels, samples, batch_size, windows_per_segment", [
    (1, 100_000, 4, 1), (1, 100_000, 4, 5), (2, 77_777, 3, 2), (1, 8_193, 1, 1), (2, 50_000, 4, 3),
])
def test_segments_stitch_to_the_single_pass(tiny_model, channels, samples, batch_size, windows_per_segment):
    audio = band_limited_noise(samples, seed=channels, channels=channels) if channels > 1 else band_limited_noise(samples)[None]
    restorer = Restorer(tiny_model, RestoreSettings(batch_size=batch_size))
    plan = restorer.plan
    per_call = offline_windows_per_call(restorer.settings, channels)
    segments = plan_segments(samples, plan, per_call, windows_per_segment)
    limits = window_limits(audio, plan)  # what the batch job's prepare() measures once for the whole file
    assert any(limit is not None for limit in limits)  # band-limited noise: the windows use them
    pieces = []
    for segment in segments:
        start, stop = segment.input_range(plan, per_call)
        pieces.append(restore_segment(restorer, segment, audio[:, start:stop], limits=limits))
    reference = restorer.restore(audio)  # the single pass: Restorer.stream(channels, None), process + flush
    np.testing.assert_array_equal(np.concatenate(pieces, axis=1), reference)
    assert [s.first for s in segments[1:]] == [s.stop for s in segments[:-1]]  # they tile the windows
    assert all(s.first % per_call == 0 for s in segments)  # aligned with the DiT call groups


def test_a_segment_of_a_longer_file_is_not_the_short_file(tiny_model):
    """The noise is keyed by the global window index: restoring a middle segment as if it were a file of its own
    gives other samples (so the test above would catch a segment that forgot its offset)."""
    audio = band_limited_noise(60_000)[None]
    restorer = Restorer(tiny_model, RestoreSettings(low_band="off"))
    plan = restorer.plan
    segments = plan_segments(60_000, plan, 4, 4)
    start, stop = segments[1].input_range(plan, 4)
    middle = restore_segment(restorer, segments[1], audio[:, start:stop])
    out_start, out_stop = segments[1].output_range(plan)
    alone = restorer.restore(audio[:, out_start:out_stop])
    assert np.abs(middle - alone).max() > 1e-3


def test_nan_input_names_the_file(tiny_model):
    from sagasr_stream.errors import AudioFileError

    restorer = Restorer(tiny_model)
    segment = plan_segments(20_000, restorer.plan, 4, 4)[0]
    audio = np.zeros((1, 20_000), np.float32)
    audio[0, 100] = np.nan
    with pytest.raises(AudioFileError, match="tape.wav holds NaN"):
        restore_segment(restorer, segment, audio, source="tape.wav")
