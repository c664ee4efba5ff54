"""GPU readiness benchmark: one run measures what a CUDA machine gives, in under 5 minutes.

For the default bundle and a full-size bundle (Stable Audio Open shapes, random weights: exported once to
``--full-bundle`` if it is not there), on each execution provider available (TensorRT, CUDA; the CPU only
when neither is): milliseconds per graph call with ``--windows`` windows per call (the DiT gets the 3 CFG rows
per window), the DiT also with IOBinding (inputs already on the device), seconds per window and real-time
factor at 25 and 100 steps, the DiT's share of the GPU's fp16/bf16 dense peak (FLOPs counted from the graph's
weights and the attention shapes), GPU memory; then torch eager and ``torch.compile`` of the same
architecture for comparison (when torch with CUDA is installed). Writes JSON and markdown.

    python benchmarks/bench_gpu.py [--out benchmarks/gpu_results] [--windows 8] [--budget-s 280]

Without a GPU it runs the same measurements on the CPU provider (that path is tested in CI with the tiny test
model: ``tests/test_bench_gpu.py``).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

#: dense fp16/bf16 tensor throughput (TFLOP/s, no sparsity) by GPU name fragment; --peak-tflops overrides
PEAK_TFLOPS = {"H200": 989.0, "H100 SXM": 989.0, "H100 PCIe": 756.0, "H100": 756.0, "A100": 312.0,
               "L40S": 362.0, "L40": 181.0, "L4": 121.0, "A10": 125.0, "RTX 4090": 165.0, "RTX 3090": 71.0,
               "V100": 125.0, "T4": 65.0}

STEPS = (25, 100)


def providers_to_measure(only: str | None = None) -> list[list[str]]:
    """ONNX Runtime provider lists to benchmark: TensorRT and CUDA where available, else the CPU."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    gpu = [p for p in ("TensorrtExecutionProvider", "CUDAExecutionProvider") if p in available]
    chosen = [[p, "CUDAExecutionProvider", "CPUExecutionProvider"] if p.startswith("Tensorrt")
              else [p, "CPUExecutionProvider"] for p in gpu] or [["CPUExecutionProvider"]]
    if only:
        chosen = [c for c in chosen if c[0].lower().startswith(only.lower())] or chosen[-1:]
    return chosen


def gpu_name() -> str | None:
    """The first GPU's name from nvidia-smi, or None."""
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=20)
        return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else None
    except (OSError, subprocess.SubprocessError):
        return None


def gpu_memory_used_mb() -> float | None:
    """Memory in use on GPU 0 (all processes) from nvidia-smi, or None without a GPU."""
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits", "-i", "0"],
                             capture_output=True, text=True, timeout=20)
        return float(out.stdout.strip()) if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


def peak_tflops(name: str | None, override: float | None) -> float | None:
    if override:
        return override
    for fragment, value in PEAK_TFLOPS.items():
        if name and fragment.lower() in name.lower():
            return value
    return None


def dit_flops_per_row(dit_path: Path, frames: int, tokens: int) -> float:
    """Approximate FLOPs of one DiT row: 2 x (weights of rank >= 2: the matrix multiplies) x frames, plus the
    attention products (self: 4 T^2 D per layer, cross: 4 T S D per layer; D and the layer count read from the
    graph's LayerNormalization scales and the attention Softmax nodes)."""
    import onnx

    graph = onnx.load(str(dit_path), load_external_data=False).graph
    matrix_weights = sum(int(np.prod(t.dims)) for t in graph.initializer if len(t.dims) >= 2)
    widths = [int(t.dims[0]) for t in graph.initializer if len(t.dims) == 1]
    width = max(set(widths), key=widths.count) if widths else 0  # the most frequent vector length: the model width
    softmaxes = sum(1 for n in graph.node if n.op_type == "Softmax")
    attention = softmaxes / 2 * (4 * frames * frames * width + 4 * frames * tokens * width)
    return 2.0 * matrix_weights * frames + attention


def graph_feeds(manifest: Any, windows: int, seed: int = 0) -> dict[str, dict[str, np.ndarray]]:
    """Inputs per graph for ``windows`` windows per call (the DiT: 3 CFG rows per window), float32."""
    m = manifest
    rng = np.random.default_rng(seed)
    c, frames, rows = m.latent_channels, m.window_samples // m.downsampling, 3 * windows
    s, d = m.text.max_tokens, m.text.dim
    return {
        "vae_encoder": {"audio": (0.2 * rng.standard_normal((windows, 1, m.window_samples))).astype(np.float32)},
        "dit": {"x": rng.standard_normal((rows, c, frames), dtype=np.float32), "t": np.full(rows, 0.5, np.float32),
                "lr_latent": rng.standard_normal((rows, c, frames), dtype=np.float32),
                "lr_keep": np.repeat(np.float32([0, 1, 1]), windows),
                "text_tokens": np.zeros((rows, s, d), np.float32),
                "cross_keep": np.repeat(np.float32([0, 0, 1]), windows),
                "rolloff_in": np.full(rows, 0.3, np.float32), "rolloff_out": np.full(rows, 0.7, np.float32)},
        "vae_decoder": {"latent": rng.standard_normal((windows, c, frames), dtype=np.float32)},
    }


class Graphs:
    """The three restoration graphs of a bundle as ONNX Runtime sessions on one provider list."""

    def __init__(self, bundle_dir: Path, providers: list[str]) -> None:
        import onnxruntime as ort

        from sagasr_stream.bundle import load_bundle

        self.bundle = load_bundle(bundle_dir)
        self.manifest = self.bundle.manifest
        options = ort.SessionOptions()
        options.log_severity_level = 3
        self.sessions = {g: ort.InferenceSession(str(self.bundle.path(g)), options, providers=providers)
                         for g in ("vae_encoder", "dit", "vae_decoder")}
        self.provider = self.sessions["dit"].get_providers()[0]

    def call(self, graph: str, feeds: dict[str, np.ndarray]) -> Callable[[], Any]:
        session = self.sessions[graph]
        return lambda: session.run(None, feeds)

    def bound_dit(self, feeds: dict[str, np.ndarray]) -> Callable[[], Any] | None:
        """A DiT call with inputs and output on the device (IOBinding), or None on the CPU."""
        import onnxruntime as ort

        if not self.provider.startswith(("CUDA", "Tensorrt")):
            return None
        session = self.sessions["dit"]
        binding = session.io_binding()
        for name, value in feeds.items():
            binding.bind_ortvalue_input(name, ort.OrtValue.ortvalue_from_numpy(value, "cuda", 0))
        binding.bind_output(session.get_outputs()[0].name, "cuda", 0)

        def run() -> None:
            session.run_with_iobinding(binding)
            binding.synchronize_outputs()
        return run


def best_seconds(fn: Callable[[], Any], reps: int, deadline: float) -> float:
    """Best of ``reps`` timed calls after one warm-up (fewer when ``deadline``, a perf_counter time, passes)."""
    fn()
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
        if time.perf_counter() > deadline:
            break
    return best


def measure_bundle(bundle_dir: Path, providers: list[str], windows: int, reps: int, deadline: float,
                   peak: float | None) -> dict[str, Any]:
    """Per-graph ms, per-window seconds and RTF at :data:`STEPS`, DiT FLOP share, memory, for one bundle."""
    from sagasr_stream.settings import RestoreSettings, resolve

    mem0 = gpu_memory_used_mb()
    t0 = time.perf_counter()
    graphs = Graphs(bundle_dir, providers)
    out: dict[str, Any] = {"bundle": str(bundle_dir), "model": graphs.manifest.name, "provider": graphs.provider,
                           "windows_per_call": windows, "load_s": round(time.perf_counter() - t0, 2)}
    feeds = graph_feeds(graphs.manifest, windows)
    ms = {g: 1e3 * best_seconds(graphs.call(g, f), reps, deadline) for g, f in feeds.items()}
    bound = graphs.bound_dit(feeds["dit"])
    if bound is not None:
        ms["dit_iobinding"] = 1e3 * best_seconds(bound, reps, deadline)
    out["ms_per_call"] = {k: round(v, 3) for k, v in ms.items()}
    m = graphs.manifest
    hop_s = (m.window_samples - resolve(RestoreSettings(), m).overlap) / m.sample_rate  # audio a window adds (default overlap)
    dit_ms = min(ms["dit"], ms.get("dit_iobinding", ms["dit"]))
    for steps in STEPS:
        per_window = (ms["vae_encoder"] + steps * dit_ms + ms["vae_decoder"]) / windows / 1e3
        out[f"steps_{steps}"] = {"s_per_window": round(per_window, 4), "rtf": round(per_window / hop_s, 4)}
    frames = m.window_samples // m.downsampling
    flops = dit_flops_per_row(graphs.bundle.path("dit"), frames, m.text.max_tokens) * 3 * windows
    out["dit_gflop_per_call"] = float(f"{flops / 1e9:.4g}")
    out["dit_tflops_achieved"] = float(f"{flops / (dit_ms / 1e3) / 1e12:.4g}")
    if peak:
        out["dit_share_of_peak"] = float(f"{flops / (dit_ms / 1e3) / (peak * 1e12):.4g}")
    mem1 = gpu_memory_used_mb()
    if mem0 is not None and mem1 is not None:
        out["gpu_memory_mb"] = round(mem1 - mem0, 1)
    return out


def torch_comparison(bundle_dir: Path, windows: int, reps: int, deadline: float, compile_: bool) -> dict[str, Any]:
    """torch eager (and compiled) DiT call and VAE decode of the bundle's architecture, random weights, CUDA."""
    try:
        import torch

        from sagasr_export.model import build_model
    except ImportError as exc:
        return {"skipped": f"torch / sagasr_export not importable ({exc})"}
    if not torch.cuda.is_available():
        return {"skipped": "torch has no CUDA device here"}
    from sagasr_stream.bundle import load_bundle

    manifest = load_bundle(bundle_dir).manifest
    config = manifest.provenance.get("config")
    if not config:
        return {"skipped": "the manifest records no model config"}
    torch.manual_seed(0)
    model = build_model(config).eval().cuda()
    graphs_feeds = graph_feeds(manifest, windows)  # the shapes the ONNX runs get
    dit_in = [torch.from_numpy(v).cuda() for v in graphs_feeds["dit"].values()]
    lat = torch.from_numpy(graphs_feeds["vae_decoder"]["latent"]).cuda()
    result: dict[str, Any] = {}
    torch.cuda.reset_peak_memory_stats()
    for dtype in (torch.float32, torch.bfloat16):
        label = "fp32" if dtype is torch.float32 else "bf16_autocast"

        def timed(fn: Callable[[], Any]) -> float:
            def run() -> None:
                with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=dtype is torch.bfloat16):
                    fn()
                torch.cuda.synchronize()
            return round(1e3 * best_seconds(run, reps, deadline), 3)

        result[f"eager_{label}_ms"] = {"dit": timed(lambda: model.velocity(*dit_in)),
                                       "vae_decoder": timed(lambda: model.decode_latent(lat))}
        if compile_ and time.perf_counter() < deadline:
            compiled = torch.compile(model.velocity)
            result[f"compile_{label}_ms"] = {"dit": timed(lambda: compiled(*dit_in))}
    result["peak_memory_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return result


def export_full_bundle(out: Path) -> float:
    """Export the full-size config (random weights, packaged MiniLM text) to ``out``; -> seconds taken."""
    import torch

    from sagasr_export.exporter import export_bundle
    from sagasr_export.model import build_model, named_config

    t0 = time.perf_counter()
    torch.manual_seed(0)
    cfg = named_config("full").to_dict()
    cfg["text"] = {"kind": "bert", "max_tokens": 128, "path": "minilm"}
    export_bundle(build_model(cfg).eval(), out, backend="onnx", overwrite=True)
    return time.perf_counter() - t0


def render(report: dict[str, Any]) -> str:
    """The report as markdown."""
    lines = ["# GPU benchmark (benchmarks/bench_gpu.py)", "",
             f"Machine: {report['machine']}; GPU: {report['gpu'] or 'none'}; onnxruntime {report['onnxruntime']} "
             f"({', '.join(report['available_providers'])}); {report['seconds']:.0f} s in all.", "",
             "| model | provider | windows/call | encode ms | DiT call ms | DiT ms, IOBinding | decode ms | "
             "s/window @25 | RTF @25 | RTF @100 | DiT TFLOP/s | share of peak | GPU MB |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in report["runs"]:
        ms = r["ms_per_call"]
        lines.append(
            f"| {r['model']} | {r['provider']} | {r['windows_per_call']} | {ms['vae_encoder']:.1f} | {ms['dit']:.1f} | "
            f"{ms.get('dit_iobinding', float('nan')):.1f} | {ms['vae_decoder']:.1f} | {r['steps_25']['s_per_window']:.3f} | "
            f"{r['steps_25']['rtf']:.4f} | {r['steps_100']['rtf']:.4f} | {r['dit_tflops_achieved']:.3g} | "
            f"{r.get('dit_share_of_peak', float('nan')):.3f} | {r.get('gpu_memory_mb', '')} |")
    for note in report["notes"]:
        lines.append(f"\n- {note}")
    if report.get("torch"):
        lines += ["", "## torch (same architecture, random weights)", "", "```json",
                  json.dumps(report["torch"], indent=1), "```"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=None, help="the default bundle to measure (default: the embedded one)")
    p.add_argument("--full-bundle", default=str(Path.home() / ".cache" / "sagasr_stream" / "bench_full_bundle"),
                   help="full-size bundle; exported there (random weights) when missing, unless --no-full")
    p.add_argument("--no-full", action="store_true", help="skip the full-size bundle")
    p.add_argument("--windows", type=int, default=None, help="windows per call (default: 8 on a GPU, 1 on the CPU)")
    p.add_argument("--reps", type=int, default=10)
    p.add_argument("--provider", default=None, help="only this provider (tensorrt, cuda, cpu)")
    p.add_argument("--peak-tflops", type=float, default=None, help="the GPU's dense fp16/bf16 peak (default: table)")
    p.add_argument("--no-torch", action="store_true", help="skip the torch eager / compile comparison")
    p.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    p.add_argument("--budget-s", type=float, default=280.0, help="stop measuring more after this many seconds")
    p.add_argument("--out", default=str(Path(__file__).with_name("gpu_results")), help="writes OUT.json and OUT.md")
    args = p.parse_args(argv)
    import onnxruntime as ort

    from sagasr_stream.model import default_bundle_path

    start = time.perf_counter()
    deadline = start + args.budget_s
    provider_lists = providers_to_measure(args.provider)
    on_gpu = provider_lists[0][0] != "CPUExecutionProvider"
    windows = args.windows or (8 if on_gpu else 1)
    name = gpu_name()
    report: dict[str, Any] = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs", "gpu": name,
                              "onnxruntime": ort.__version__, "available_providers": ort.get_available_providers(),
                              "peak_tflops": peak_tflops(name, args.peak_tflops), "runs": [], "notes": []}
    if not on_gpu:
        report["notes"].append("no CUDA/TensorRT execution provider: CPU fallback (install onnxruntime-gpu on a "
                               "CUDA machine)")
    bundles = [Path(args.model) if args.model else default_bundle_path()]
    if not args.no_full:
        full = Path(args.full_bundle)
        if not (full / "manifest.json").is_file():
            try:
                report["notes"].append(f"exported the full-size bundle to {full} in {export_full_bundle(full):.0f} s")
            except ImportError as exc:
                report["notes"].append(f"full-size bundle skipped: exporting needs torch and sagasr_export ({exc})")
        if (full / "manifest.json").is_file():
            bundles.append(full)
    for bundle in bundles:
        for providers in provider_lists:
            if time.perf_counter() > deadline:
                report["notes"].append(f"time budget spent: {bundle} on {providers[0]} not measured")
                continue
            report["runs"].append(measure_bundle(bundle, providers, windows, args.reps, deadline, report["peak_tflops"]))
    if on_gpu and not args.no_torch:
        report["torch"] = {str(b): torch_comparison(b, windows, args.reps, deadline, not args.no_compile) for b in bundles}
    report["seconds"] = round(time.perf_counter() - start, 1)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    out.with_suffix(".md").write_text(render(report), encoding="utf-8")
    print(render(report))
    return report


if __name__ == "__main__":
    main()
