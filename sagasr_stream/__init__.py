"""sagasr_stream: SAGA-SR bandwidth extension (audio super-resolution) on ONNX Runtime.

Quick use::

    import sagasr_stream as ss
    restorer = ss.Restorer.load()                 # the embedded default bundle + settings, resolved once
    restored = ss.restore(audio, 16000, restorer) # array in, 44.1 kHz array out
    ss.restore_file("in.wav", "out.wav", restorer)  # incremental, atomic
    stream = restorer.stream(channels=1)          # the stream protocol: planar blocks in/out, fixed latency
"""
from .api import restore, restore_file
from .bundle import Bundle, Manifest, load_bundle
from .chain import Chain
from .effect import BandwidthExtension
from .errors import (
    AudioFileError, AudioFileNotFoundError, AudioInputError, AudioTypeError, BundleError, BundleNotFoundError,
    EvaluationError, OutputExistsError, ParameterError, ParameterTypeError, ProviderError, SagasrError, SettingsError,
)
from .model import SagaSRModel
from .restorer import Restorer
from .settings import RestoreSettings
from .stream import StreamingRestorer
from .streaming import ResampleStage, Series, Stream
from .upsample import StreamingUpsampler, upsample

__version__ = "0.1.0"

__all__ = [
    "AudioFileError", "AudioFileNotFoundError", "AudioInputError", "AudioTypeError", "BandwidthExtension", "Bundle",
    "BundleError", "BundleNotFoundError", "Chain", "EvaluationError", "Manifest", "OutputExistsError", "ParameterError",
    "ParameterTypeError", "ProviderError", "ResampleStage", "RestoreSettings", "Restorer", "SagaSRModel", "SagasrError",
    "Series", "SettingsError", "Stream", "StreamingRestorer", "StreamingUpsampler",
    "load_bundle", "restore", "restore_file", "upsample", "__version__",
]
