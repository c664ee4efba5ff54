"""The SAGA-SR torch model, which the exporter and training both import (needs torch and stable-audio-tools).

Modules: :mod:`.sagasr` (configs, :class:`SagaSR`, the builders; re-exported here), :mod:`.conditioners`
(roll-off and text conditioning, the frozen text encoder), :mod:`.mdct` (the analytic MDCT "VAE"),
:mod:`.checkpoint` (safetensors checkpoint folders, Stable Audio Open weights) and :mod:`.reference` (the
pure-torch sampler that proves bundle parity). The shipped configs are ``export/configs/*.json``.
"""
from .sagasr import (MDCT_KINDS, CONFIG_DIR, Autoencoder, DiTConfig, SagaSR, SagaSRConfig, TextConfig, VAEConfig,
                     build_autoencoder, build_dit, build_model, dit_velocity, latent_affine, load_config, named_config)

__all__ = ["CONFIG_DIR", "MDCT_KINDS", "Autoencoder", "DiTConfig", "SagaSR", "SagaSRConfig", "TextConfig", "VAEConfig",
           "build_autoencoder", "build_dit", "build_model", "dit_velocity", "latent_affine", "load_config",
           "named_config"]
