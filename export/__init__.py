"""SAGA-SR on stable-audio-tools, imported as ``sagasr_export`` (needs torch): the torch model and the bundle
exporter beside it.

Subpackage :mod:`.model` (the model: config, SagaSR, conditioners, MDCT, checkpoints, reference sampler; training
imports it too); modules :mod:`.exporter` (export_bundle) and :mod:`.cli` (``sagasr export``).
"""
