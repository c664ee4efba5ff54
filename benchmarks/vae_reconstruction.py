"""How well a VAE checkpoint reconstructs validation audio, beside the band-limited input and the SBR baseline.

    python benchmarks/vae_reconstruction.py runs/vae-small-cpu/checkpoint/autoencoder.safetensors \
        --corpus data/corpus [--model small] [--clips 6]

Clips: every 10th line of the corpus's validation.txt (``--clips`` of them), first 131072 samples, peak 0.5.
Prints the log-spectral distance (full band, above 4 kHz, above 12 kHz) of the reconstruction, the std of the
posterior mean (for ``latent_scale``), and the full-band LSD of the resample-degraded input and of the SBR
baseline at 4 and 12 kHz on the same clips.
"""
from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
import torch


def read_clip(path: Path, samples: int = 131072) -> np.ndarray:
    from pedalboard.io import AudioFile

    with AudioFile(str(path)) as f:
        x = f.read(min(f.frames, samples)).mean(axis=0)
    return (x / max(1e-6, float(np.abs(x).max())) * 0.5).astype(np.float32)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("weights", help="a VAE run's checkpoint folder or autoencoder.safetensors")
    p.add_argument("--corpus", required=True, help="corpus folder (validation.txt)")
    p.add_argument("--model", default="small", help="model config the VAE belongs to")
    p.add_argument("--clips", type=int, default=6)
    args = p.parse_args()
    warnings.simplefilter("ignore")
    from sagasr_export.model.checkpoint import load_vae_weights
    from sagasr_export.model import build_autoencoder, named_config
    from sagasr_stream.degradation import resample_through
    from sagasr_stream.evaluation.baseline import sbr_extend
    from sagasr_stream.evaluation.metrics import lsd, lsd_hf

    ae = build_autoencoder(named_config(args.model))
    load_vae_weights(ae, args.weights)
    ae.eval()
    corpus = Path(args.corpus)
    names = [line.strip() for line in (corpus / "validation.txt").read_text().splitlines() if line.strip()]
    recon, stds, reference = [], [], []
    for name in names[::10][: args.clips]:
        x = read_clip(corpus / name)
        with torch.no_grad():
            z = ae.encoder(torch.from_numpy(x)[None, None]).chunk(2, dim=1)[0]
            y = ae.decoder(z)[0, 0].numpy()
        stds.append(float(z.std()))
        recon.append((lsd(y, x), lsd_hf(y, x, 44100, 4000), lsd_hf(y, x, 44100, 12000)))
        row = []
        for cutoff in (4000, 12000):
            d = resample_through(x, 44100, 2 * cutoff).astype(np.float32)
            row += [lsd(d, x), lsd(sbr_extend(d, 44100, cutoff), x)]
        reference.append(row)
    r, b = np.mean(recon, axis=0), np.mean(reference, axis=0)
    print(f"reconstruction LSD full {r[0]:.3f}, above 4 kHz {r[1]:.3f}, above 12 kHz {r[2]:.3f}; "
          f"latent std {np.mean(stds):.3f} ({len(recon)} clips)")
    print(f"input / SBR LSD full: at 4 kHz {b[0]:.3f} / {b[1]:.3f}, at 12 kHz {b[2]:.3f} / {b[3]:.3f}")


if __name__ == "__main__":
    main()
