"""SAGA-SR on stable-audio-tools: model definition, checkpoints and the bundle exporter (needs torch).

Modules: :mod:`.model` (config, SagaSR, build_model), :mod:`.conditioners`, :mod:`.checkpoint`,
:mod:`.exporter` (export_bundle), :mod:`.reference` (pure-torch sampler), :mod:`.cli` (``sagasr export``).
"""
