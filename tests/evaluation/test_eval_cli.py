import json

import numpy as np
from pedalboard.io import AudioFile

from sagasr_stream.cli import main


def test_eval_command_writes_a_report_with_seams(tiny_bundle, tmp_path):
    rng = np.random.default_rng(0)
    refs = tmp_path / "refs"
    refs.mkdir()
    for i in range(2):
        with AudioFile(str(refs / f"clip{i}.flac"), "w", 44100, 1, bit_depth=24) as f:
            f.write((0.2 * rng.standard_normal((1, 44100))).astype(np.float32))
    out = tmp_path / "report"
    code = main(["eval", str(refs), "-o", str(out), "--model", str(tiny_bundle), "--cutoffs", "4000", "8000",
                 "--pngs", "1", "--overlap", "2048"])
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    assert report  # the runner's structured results
    text = (out / "report.md").read_text()
    assert "tiny-random" in text and "Seam metric" in text
    seams = json.loads((out / "seams.json").read_text())
    assert seams["seam_clips"] == 2 and np.isfinite(seams["seam_db_mean"])
    assert list(out.glob("*.png"))
