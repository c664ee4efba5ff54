"""SAGA-SR and VAE training on stable-audio-tools and Lightning (needs torch)."""
