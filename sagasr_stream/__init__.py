"""sagasr_stream: SAGA-SR bandwidth extension (audio super-resolution) on ONNX Runtime.

Quick use::

    import sagasr_stream as ss
    model = ss.SagaSRModel.load()                 # the embedded default bundle, or a path
    restored = ss.restore(audio, 16000, model)    # array in, 44.1 kHz array out
    ss.restore_file("in.wav", "out.wav", model)   # incremental, atomic
    stream = ss.StreamingRestorer(model)          # blocks in, blocks out, fixed latency
"""
from .api import restore, restore_file
from .bundle import Bundle, Manifest, load_bundle
from .chain import Chain
from .effect import BandwidthExtension
from .errors import AudioFileError, AudioInputError, AudioTypeError, BundleError, SagasrError, SettingsError
from .model import SagaSRModel
from .settings import RestoreSettings
from .stream import StreamingRestorer
from .upsample import StreamingUpsampler, upsample

__version__ = "0.1.0"

__all__ = [
    "AudioFileError", "AudioInputError", "AudioTypeError", "BandwidthExtension", "Bundle", "BundleError", "Chain",
    "Manifest", "RestoreSettings", "SagaSRModel", "SagasrError", "SettingsError", "StreamingRestorer", "StreamingUpsampler",
    "load_bundle", "restore", "restore_file", "upsample", "__version__",
]
