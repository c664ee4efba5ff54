"""Where the time goes in a bundle on ONNX Runtime: per graph (through the runtime's backend, as restoration
calls it) and per op type (ONNX Runtime's profiler, aggregated over the profile's kernel events).

    python benchmarks/speed_profile.py [--model BUNDLE] [--batch 4] [--reps 5] [--json out.json]

Graph inputs follow what one engine call passes: ``--batch`` windows (the settings' ``batch_size``), i.e.
``batch`` rows to the VAE and ``3 * batch`` rows (the CFG passes) to the DiT; the text encoder gets 3
captions. The per-window line is encode + ``steps`` DiT calls + decode, divided by the windows per call,
against the window's hop (the audio one window adds) for a real-time factor.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np


def graph_inputs(manifest: Any, batch: int, seed: int = 0) -> dict[str, tuple[np.ndarray, ...]]:
    """Backend-call arguments per graph for ``batch`` windows (the DiT gets the 3 CFG rows per window)."""
    rng = np.random.default_rng(seed)
    c, frames = manifest.latent_channels, manifest.window_samples // manifest.downsampling
    rows = 3 * batch
    s, d = manifest.text.max_tokens, manifest.text.dim
    ids = rng.integers(1000, 2000, size=(3, s)).astype(np.int64)
    mask = np.zeros((3, s), np.int64)
    mask[:, :8] = 1
    return {
        "vae_encoder": ((rng.standard_normal((batch, 1, manifest.window_samples)) * 0.2).astype(np.float32),),
        "dit": (rng.standard_normal((rows, c, frames), dtype=np.float32), np.full(rows, 0.5, np.float32),
                rng.standard_normal((rows, c, frames), dtype=np.float32), np.repeat(np.float32([0, 1, 1]), batch),
                np.zeros((rows, s, d), np.float32), np.repeat(np.float32([0, 0, 1]), batch),
                np.full(rows, 0.3, np.float32), np.full(rows, 0.7, np.float32)),
        "vae_decoder": (rng.standard_normal((batch, c, frames), dtype=np.float32),),
        "text_encoder": (ids, mask),
    }


def backend_calls(backend: Any, inputs: dict[str, tuple[np.ndarray, ...]]) -> dict[str, Callable[[], Any]]:
    """Graph name -> a call of the backend method that runs it."""
    methods = {"vae_encoder": backend.encode, "dit": backend.velocity, "vae_decoder": backend.decode,
               "text_encoder": backend.encode_text}
    return {g: (lambda m=methods[g], a=args: m(*a)) for g, args in inputs.items()}


def best_of(calls: dict[str, Callable[[], Any]], reps: int) -> dict[str, float]:
    """Seconds per call, the best of ``reps`` after one warm-up, the calls interleaved round by round."""
    for fn in calls.values():
        fn()
    times: dict[str, list[float]] = {k: [] for k in calls}
    for _ in range(reps):
        for name, fn in calls.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {k: min(v) for k, v in times.items()}


def op_profile(session_factory: Callable[[Any], Any], feeds: dict[str, np.ndarray], runs: int) -> dict[str, dict[str, float]]:
    """Op type -> {"ms": mean kernel milliseconds per run, "share": fraction, "nodes": count} from ONNX
    Runtime's profiler (``SessionOptions.enable_profiling``) over ``runs`` runs after a warm-up."""
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as tmp:
        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.enable_profiling = True
        options.profile_file_prefix = str(Path(tmp) / "profile")
        session = session_factory(options)
        names = {i.name for i in session.get_inputs()}
        feeds = {k: v for k, v in feeds.items() if k in names}
        session.run(None, feeds)
        for _ in range(runs):
            session.run(None, feeds)
        events = json.loads(Path(session.end_profiling()).read_text())
    total: collections.Counter[str] = collections.Counter()
    nodes: dict[str, set[str]] = collections.defaultdict(set)
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            op = event["args"]["op_name"]
            total[op] += event["dur"]
            nodes[op].add(event["name"])
    grand = sum(total.values()) or 1
    return {op: {"ms": dur / (runs + 1) / 1e3, "share": dur / grand, "nodes": len(nodes[op])}
            for op, dur in total.most_common()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=None, help="bundle folder (default: the embedded model)")
    p.add_argument("--batch", type=int, default=4, help="windows per call (settings.batch_size, default 4)")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--profile-runs", type=int, default=3)
    p.add_argument("--steps", type=int, default=None, help="DiT steps per window (default: the bundle's)")
    p.add_argument("--json", default=None, help="write the numbers here")
    args = p.parse_args()
    import onnxruntime as ort

    from sagasr_stream.backends.onnx import OnnxBackend
    from sagasr_stream.bundle import load_bundle
    from sagasr_stream.graphs import GRAPHS
    from sagasr_stream.model import default_bundle_path
    from sagasr_stream.settings import RestoreSettings, resolve

    bundle = load_bundle(args.model or default_bundle_path())
    m = bundle.manifest
    steps = args.steps or m.defaults.steps
    backend = OnnxBackend(bundle, provider="cpu")
    result: dict[str, Any] = {"model": m.name, "batch": args.batch, "steps": steps, "onnxruntime": ort.__version__,
                              "cpus": os.cpu_count(), "load_before": os.getloadavg()[0], "graphs": {}, "per_batch": {}}
    for batch in sorted({1, args.batch}):
        inputs = graph_inputs(m, batch)
        calls = backend_calls(backend, inputs)
        seconds = best_of(calls, args.reps)
        hop = m.window_samples - resolve(RestoreSettings(), m).overlap  # at the bundle's default overlap
        window = (seconds["vae_encoder"] + steps * seconds["dit"] + seconds["vae_decoder"]) / batch
        result["per_batch"][str(batch)] = {"ms": {k: v * 1e3 for k, v in seconds.items()},
                                   "window_ms": window * 1e3, "rtf_per_hop": window / (hop / m.sample_rate)}
    inputs = graph_inputs(m, args.batch)
    for graph in ("vae_encoder", "dit", "vae_decoder", "text_encoder"):
        feeds = dict(zip(GRAPHS[graph].input_names, inputs[graph]))

        def factory(options: Any, graph: str = graph) -> Any:
            return ort.InferenceSession(str(bundle.path(graph)), options, providers=["CPUExecutionProvider"])

        result["graphs"][graph] = op_profile(factory, feeds, args.profile_runs)
    result["load_after"] = os.getloadavg()[0]
    print(render(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1), encoding="utf-8")


def render(r: dict[str, Any]) -> str:
    """The numbers as markdown tables."""
    lines = [f"model {r['model']}, onnxruntime {r['onnxruntime']}, {r['cpus']} CPUs, load average "
             f"{r['load_before']:.1f} -> {r['load_after']:.1f}", "",
             "| windows per call | VAE encode ms | DiT call ms (3 CFG rows per window) | VAE decode ms | text encode ms (3 captions) "
             f"| per window, {r['steps']} steps, ms | RTF (per hop) |", "|---|---|---|---|---|---|---|"]
    for key, b in r["per_batch"].items():
        ms = b["ms"]
        lines.append(f"| {key} | {ms['vae_encoder']:.1f} | {ms['dit']:.1f} | {ms['vae_decoder']:.1f} | "
                     f"{ms['text_encoder']:.1f} | {b['window_ms']:.0f} | {b['rtf_per_hop']:.3f} |")
    lines += ["", f"Per op type (ONNX Runtime profiler, {r['batch']} windows per call; kernel time only):", ""]
    for graph, ops in r["graphs"].items():
        top = sorted(ops.items(), key=lambda kv: -kv[1]["ms"])[:8]
        lines.append(f"- **{graph}** ({sum(o['ms'] for o in ops.values()):.1f} ms): " + ", ".join(
            f"{op} {o['share'] * 100:.0f}% ({o['ms']:.1f} ms, {o['nodes']} nodes)" for op, o in top))
    return "\n".join(lines)


if __name__ == "__main__":
    main()
