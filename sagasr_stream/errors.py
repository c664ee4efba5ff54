"""Exceptions raised by sagasr_stream. Each message names the offending value, shape, rate or file."""
from __future__ import annotations


class SagasrError(Exception):
    """Base class of every error this package raises on purpose."""


class BundleError(SagasrError, ValueError):
    """A model bundle is malformed, truncated or does not match its recorded hashes (a ValueError), or missing
    (:class:`BundleNotFoundError`)."""


class BundleNotFoundError(BundleError, FileNotFoundError):
    """No model bundle at the path given (or no embedded default model): also a FileNotFoundError."""


class AudioInputError(SagasrError, ValueError):
    """Audio given to the library is unusable: empty, non-finite, wrong shape or unsupported rate."""


class AudioTypeError(SagasrError, TypeError):
    """Audio of a dtype the library does not accept (integers, complex, objects)."""


class AudioFileError(SagasrError, OSError):
    """An audio file cannot be read or written."""


class AudioFileNotFoundError(AudioFileError, FileNotFoundError):
    """An input audio file that is not there: also a FileNotFoundError."""


class OutputExistsError(AudioFileError, FileExistsError):
    """An output file exists and may not be replaced (``overwrite=False``): also a FileExistsError."""


class SettingsError(SagasrError, ValueError):
    """A restoration setting (steps, guidance, roll-off, overlap, batch size, seed, ...) is out of range."""


class ParameterError(SagasrError, ValueError):
    """An argument of a library call (block or buffer size, channel count, filter, provider name, window plan,
    evaluation option, ...) is out of range or unknown."""


class ParameterTypeError(SagasrError, TypeError):
    """An argument of a library call is of the wrong kind (e.g. a chain item that is no effect)."""


class ProviderError(SagasrError, RuntimeError):
    """The execution provider asked for (e.g. CUDA) is not available on this machine."""


class EvaluationError(SagasrError, ValueError):
    """The evaluation cannot run: a clip, a caption file or a system under test gave unusable data."""
