"""benchmarks/bench_gpu.py's CPU fallback path, on the tiny test model (the path CI can run)."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench_gpu():
    pytest.importorskip("onnx")
    spec = importlib.util.spec_from_file_location("bench_gpu", ROOT / "benchmarks" / "bench_gpu.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cpu_fallback_writes_a_consistent_report(bench_gpu, tiny_bundle, tmp_path):
    out = tmp_path / "report"
    report = bench_gpu.main(["--model", str(tiny_bundle), "--no-full", "--provider", "cpu", "--reps", "2",
                             "--windows", "2", "--out", str(out)])
    saved = json.loads(out.with_suffix(".json").read_text())
    assert saved["runs"] == report["runs"] and len(report["runs"]) == 1
    run = report["runs"][0]
    assert run["provider"] == "CPUExecutionProvider" and run["windows_per_call"] == 2
    ms = run["ms_per_call"]
    assert set(ms) == {"vae_encoder", "dit", "vae_decoder"} and all(v > 0 for v in ms.values())
    window = (ms["vae_encoder"] + 25 * ms["dit"] + ms["vae_decoder"]) / 2 / 1e3
    assert run["steps_25"]["s_per_window"] == pytest.approx(window, rel=1e-3, abs=1e-4)
    assert run["steps_100"]["rtf"] > run["steps_25"]["rtf"] > 0
    assert run["dit_gflop_per_call"] > 0 and run["dit_tflops_achieved"] > 0
    text = out.with_suffix(".md").read_text()
    assert text.startswith("# GPU benchmark") and "CPUExecutionProvider" in text and "CPU fallback" in text


def test_dit_flops_grow_with_frames_at_least_linearly(bench_gpu, tiny_bundle):
    from sagasr_stream.bundle import load_bundle

    dit = load_bundle(tiny_bundle).path("dit")
    one, two = (bench_gpu.dit_flops_per_row(dit, frames, 8) for frames in (16, 32))
    assert one > 0 and two >= 2 * one


def test_peak_table_lookup_and_override(bench_gpu):
    assert bench_gpu.peak_tflops("NVIDIA H200", None) == 989.0
    assert bench_gpu.peak_tflops("NVIDIA A100-SXM4-80GB", None) == 312.0
    assert bench_gpu.peak_tflops("Some Unknown GPU", None) is None
    assert bench_gpu.peak_tflops(None, 123.0) == 123.0
