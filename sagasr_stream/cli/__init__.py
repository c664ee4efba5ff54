"""The ``sagasr`` command line, one module per verb group: ``restore`` (alias ``upsample``), ``bundle`` (info,
make-test-model, export), ``bench``, ``eval``, ``live``; ``options`` and ``fields`` derive the restore flags
from :class:`~sagasr_stream.settings.RestoreSettings`. Library modules never import this package."""
from .main import main

__all__ = ["main"]
