"""The bound a VAE puts on any DiT on it: decode the latents of the full-band clip ("VAE(full band)", what a
perfect DiT would give) and of the band-limited clip ("VAE(band-limited)", a DiT that copies its LR input), keep
the band-limited input's own low band as the runtime does (``low_band="keep"``), and score both beside SBR.

    python benchmarks/vae_bound.py runs/vae-small-cpu-decoder/checkpoint --clips CORPUS/validation-every10.txt

Clips: a corpus split list (or files/folders), first ``--seconds`` (6) of each, peak 0.5; degradation: the
training recipe's filters (``sagasr eval``'s "filters", seed 0) at 4, 8 and 12 kHz. Prints mean LSD / LSD-HF.
"""
from __future__ import annotations

import argparse
import warnings

import numpy as np
import torch


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("weights", help="a VAE run's checkpoint folder or autoencoder.safetensors")
    p.add_argument("--clips", required=True, help="corpus split list (.txt), file or folder")
    p.add_argument("--model", default="small", help="model config the VAE belongs to")
    p.add_argument("--seconds", type=float, default=6.0)
    args = p.parse_args()
    warnings.simplefilter("ignore")
    from sagasr_export.model.checkpoint import load_vae_weights
    from sagasr_export.model import build_autoencoder, named_config
    from sagasr_stream.dsp import merge_low_band
    from sagasr_stream.evaluation.baseline import sbr_extend
    from sagasr_stream.evaluation.references import load_clips
    from sagasr_stream.evaluation.metrics import lsd, lsd_hf
    from sagasr_stream.degradation import degrade

    ae = build_autoencoder(named_config(args.model)).eval()
    load_vae_weights(ae, args.weights)

    def roundtrip(x: np.ndarray) -> np.ndarray:
        """(samples,) -> VAE reconstruction (samples,) at the input's level (encoded at peak 0.5)."""
        n, gain = x.size, 0.5 / max(float(np.abs(x).max()), 1e-6)
        padded = np.zeros(-(-n // 2048) * 2048, np.float32)
        padded[:n] = x * gain
        with torch.no_grad():
            z = ae.encoder(torch.from_numpy(padded)[None, None]).chunk(2, dim=1)[0]
            return ae.decoder(z)[0, 0, :n].numpy() / gain

    scores: dict[tuple[int, str], list[tuple[float, float]]] = {}
    for ci, ref in enumerate(load_clips([args.clips], args.seconds, None, 44100).values()):
        full = roundtrip(ref)
        for cutoff in (4000, 8000, 12000):
            lr = degrade(ref, "filters", cutoff, np.random.default_rng([0, ci, 0, 0]))
            systems = {"SBR": sbr_extend(lr, 44100, cutoff),
                       "VAE(full band)": merge_low_band(full[None], lr[None])[0],
                       "VAE(band-limited)": merge_low_band(roundtrip(lr)[None], lr[None])[0]}
            for name, out in systems.items():
                scores.setdefault((cutoff, name), []).append((lsd(out, ref), lsd_hf(out, ref, 44100, cutoff)))
    print("| cutoff | system | LSD | LSD-HF |\n|---|---|---|---|")
    for (cutoff, name), rows in scores.items():
        m = np.mean(rows, axis=0)
        print(f"| {cutoff // 1000} kHz | {name} | {m[0]:.3f} | {m[1]:.3f} |")


if __name__ == "__main__":
    main()
