"""SAGA-SR on stable-audio-tools: model definition, checkpoints and the bundle exporter (needs torch)."""
