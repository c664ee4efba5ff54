"""Build the full-size SAGA-SR (Stable Audio Open shapes) with random weights, export it to ONNX (external
data) and run the exported DiT once. Not part of the tests (minutes, ~15 GB RAM).

T5-base weights and tokenizer are not available offline, so the text encoder here is the packaged MiniLM
(384-d) projected to the 768-d conditioning tokens; VAE and DiT have the exact full shapes.

    python benchmarks/export_full.py --out /tmp/sagasr_full [--json results.json]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import time
import warnings

import numpy as np


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--out", default="/tmp/sagasr_full_bundle")
    p.add_argument("--json", default=None)
    args = p.parse_args()
    warnings.simplefilter("ignore")
    import torch

    from sagasr_export.exporter import export_bundle
    from sagasr_export.model import build_model, named_config
    from sagasr_stream.backends.onnx import OnnxBackend
    from sagasr_stream.bundle import load_bundle

    torch.manual_seed(0)
    cfg = named_config("full").to_dict()
    cfg["text"] = {"kind": "bert", "max_tokens": 128, "path": "minilm"}
    res: dict = {}
    t0 = time.perf_counter()
    model = build_model(cfg).eval()
    res["build_s"] = round(time.perf_counter() - t0, 1)
    res["dit_params"] = sum(p.numel() for p in model.dit.parameters())
    res["vae_params"] = sum(p.numel() for p in model.autoencoder.parameters())
    shutil.rmtree(args.out, ignore_errors=True)
    t0 = time.perf_counter()
    manifest = export_bundle(model, args.out, backend="onnx")
    res["export_s"] = round(time.perf_counter() - t0, 1)
    res["export_s_per_graph"] = manifest.provenance["export_seconds"]
    res["files_mb"] = {f: round(os.path.getsize(os.path.join(args.out, f)) / 1e6, 1) for f in manifest.files}
    res["bundle_gb"] = round(sum(os.path.getsize(os.path.join(args.out, f)) for f in manifest.files) / 1e9, 2)
    del model
    t0 = time.perf_counter()
    backend = OnnxBackend(load_bundle(args.out), provider="cpu")
    res["load_s"] = round(time.perf_counter() - t0, 1)
    rng = np.random.default_rng(0)
    b, c, t = 3, 64, 32
    x = rng.standard_normal((b, c, t), dtype=np.float32)
    t0 = time.perf_counter()
    v = backend.velocity(x, np.full(b, 0.5, np.float32), x, np.array([0, 1, 1], np.float32),
                         rng.standard_normal((b, 128, 384), dtype=np.float32), np.array([0, 0, 1], np.float32),
                         np.full(b, 0.3, np.float32), np.full(b, 0.7, np.float32))
    res["dit_call_batch3_s"] = round(time.perf_counter() - t0, 2)
    res["dit_ran"] = bool(v.shape == (b, c, t) and np.isfinite(v).all())
    print(json.dumps(res, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
