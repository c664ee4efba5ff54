# Sourced by the GPU recipes (default_model_v3_gpu.sh, default_model_v3_gpu_continue.sh) on a machine that reaches
# no registry: the repository's packages on PYTHONPATH by their import names (no install), the carried wheels in
# .whl/ installed to /tmp/sagasr-site when stable-audio-tools, pedalboard or k-diffusion is missing, offline model
# hubs. Needs ROOT (the repository root, the working folder) and PY (the Python); PKGS (default /tmp/sagasr-pkgs)
# is where the package links go.
PKGS="${PKGS:-/tmp/sagasr-pkgs}"; mkdir -p "$PKGS"
ln -sfn "$ROOT/sagasr_stream" "$PKGS/sagasr_stream"; ln -sfn "$ROOT/export" "$PKGS/sagasr_export"
ln -sfn "$ROOT/training" "$PKGS/sagasr_training"
export PYTHONPATH="$PKGS${PYTHONPATH:+:$PYTHONPATH}"
if [ -d .whl ] && ! "$PY" -c "import stable_audio_tools, pedalboard, k_diffusion" >/dev/null 2>&1; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/sagasr-site \
        .whl/*.whl
fi
[ -d /tmp/sagasr-site ] && export PYTHONPATH="$PYTHONPATH:/tmp/sagasr-site"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
