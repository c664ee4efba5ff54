"""Does the runtime give the same output on every ONNX Runtime provider and machine?

Restores one file with the embedded default model (or ``--model``) on each provider available here (CPU always,
CUDA where onnxruntime-gpu has it), saves each output as ``OUT/<machine>_<provider>.npy`` (float32, channels
first) and prints, as JSON, the seconds and real-time factor of each and its difference from the CPU's output
(largest sample difference, and the evaluation's LSD of the two above 4 kHz). ``--compare A.npy B.npy`` does
the same comparison between two saved outputs, e.g. one from another machine.

    python benchmarks/provider_parity.py --input examples/audio/example_16k.flac --out parity --machine here
    python benchmarks/provider_parity.py --compare parity/here_cpu.npy parity/gpu_cpu.npy
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def difference(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Largest sample difference and LSD above 4 kHz between two outputs of the same shape."""
    from sagasr_stream.evaluation.metrics import lsd_hf

    if a.shape != b.shape:
        raise ValueError(f"outputs differ in shape: {a.shape} and {b.shape}")
    a2, b2 = np.atleast_2d(a), np.atleast_2d(b)
    return {"max_abs_diff": float(np.max(np.abs(a - b))),
            "lsd_above_4k": float(np.mean([lsd_hf(x, y, 44100, 4000.0) for x, y in zip(a2, b2)]))}


def available_providers() -> list[str]:
    import onnxruntime as ort

    have = ort.get_available_providers()
    return ["cpu"] + (["cuda"] if "CUDAExecutionProvider" in have else [])


def run(input_path: Path, out: Path, machine: str, model: str | None) -> dict:
    from pedalboard.io import AudioFile

    from sagasr_stream.api import restore
    from sagasr_stream.restorer import Restorer

    with AudioFile(str(input_path)) as f:
        audio, rate = f.read(f.frames), f.samplerate
    seconds = audio.shape[1] / rate
    out.mkdir(parents=True, exist_ok=True)
    report: dict = {"machine": machine, "input": str(input_path), "seconds": seconds, "providers": {}}
    outputs = {}
    for provider in available_providers():
        restorer = Restorer.load(model, provider=provider)
        restore(audio[:, : int(rate)], rate, restorer)  # warm-up (session start, CUDA kernels)
        start = time.perf_counter()
        y = restore(audio, rate, restorer)
        took = time.perf_counter() - start
        np.save(out / f"{machine}_{provider}.npy", y.astype(np.float32))
        outputs[provider] = y
        report["providers"][provider] = {"seconds": took, "rtf": took / seconds}
    for provider, y in outputs.items():
        if provider != "cpu":
            report["providers"][provider] |= difference(outputs["cpu"], y)
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--input", type=Path, help="audio file to restore")
    p.add_argument("--out", type=Path, default=Path("parity"), help="folder for the outputs (.npy)")
    p.add_argument("--machine", default="here", help="name of this machine in the file names")
    p.add_argument("--model", help="bundle folder (default: the embedded model)")
    p.add_argument("--compare", nargs=2, type=Path, metavar=("A", "B"), help="compare two saved outputs")
    args = p.parse_args(argv)
    if args.compare:
        report = difference(np.load(args.compare[0]), np.load(args.compare[1]))
    elif args.input:
        report = run(args.input, args.out, args.machine, args.model)
    else:
        p.error("give --input FILE or --compare A B")
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
