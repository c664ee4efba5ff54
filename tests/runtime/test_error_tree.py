"""One error tree: every deliberate error of sagasr_stream is a SagasrError; the subclasses keep ValueError,
TypeError or RuntimeError as a base so callers that catch those keep working."""
from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from sagasr_stream import errors
from sagasr_stream.backends.onnx import choose_providers
from sagasr_stream.chunking import WindowPlan
from sagasr_stream.degradation import LowPassSpec, design_lowpass
from sagasr_stream.errors import ParameterError, SagasrError
from sagasr_stream.stream import StreamingRestorer

PACKAGE = Path(errors.__file__).parent
PLAIN = {"ValueError", "TypeError", "RuntimeError"}
#: (file relative to sagasr_stream/, exception) raises of plain built-in errors that stay, and why
ALLOWED = {
    # the ``default=`` hook of json.dumps must raise TypeError for an unserialisable value (json's protocol)
    ("bundle.py", "TypeError"),
}


def plain_raises(root: Path = PACKAGE) -> list[tuple[str, int, str]]:
    """(file, line, exception name) of every ``raise ValueError/TypeError/RuntimeError(...)`` under ``root``."""
    found = []
    for file in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Raise) and node.exc is not None:
                exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
                if isinstance(exc, ast.Name) and exc.id in PLAIN:
                    found.append((file.relative_to(root).as_posix(), node.lineno, exc.id))
    return sorted(found)


def test_no_plain_builtin_raises_outside_the_allow_list():
    remaining = [r for r in plain_raises() if (r[0], r[2]) not in ALLOWED]
    assert not remaining, "raise a sagasr_stream.errors class instead: " + ", ".join(f"{f}:{n} {e}" for f, n, e in remaining)
    assert {(f, e) for f, _, e in plain_raises()} == ALLOWED  # the allow-list holds nothing stale


def test_the_scan_finds_plain_raises(tmp_path):
    (tmp_path / "m.py").write_text("def f(x):\n    if x:\n        raise ValueError('x')\n    raise RuntimeError\n"
                                   "    raise SagasrError('fine')\n")
    assert plain_raises(tmp_path) == [("m.py", 3, "ValueError"), ("m.py", 4, "RuntimeError")]


def test_every_error_class_is_a_sagasr_error():
    classes = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, Exception)]
    assert len(classes) >= 10 and all(issubclass(c, SagasrError) for c in classes)
    assert issubclass(errors.ParameterError, ValueError) and issubclass(errors.EvaluationError, ValueError)
    assert issubclass(errors.ParameterTypeError, TypeError) and issubclass(errors.ProviderError, RuntimeError)


@pytest.mark.parametrize("call", [
    lambda: WindowPlan(1024, 900),
    lambda: design_lowpass(LowPassSpec("no-such-family", 4, 8000.0), 44100),
    lambda: choose_providers("tpu"),
])
def test_bad_arguments_raise_parameter_errors(call):
    with pytest.raises(ParameterError):
        call()


def test_stream_channels_and_chain_items(tiny_model):
    from sagasr_stream.chain import Chain

    with pytest.raises(ParameterError, match="channels"):
        StreamingRestorer(tiny_model, channels=0)
    with pytest.raises(errors.ParameterTypeError, match="neither a pedalboard plugin"):
        Chain([np.zeros(3)])


def test_every_error_class_keeps_a_builtin_base_and_is_exported():
    """The README: each subclass keeps the matching built-in base, so ``except ValueError`` / ``OSError`` callers
    keep working; and a user can catch any of them from the package itself (``ss.ParameterError``)."""
    import sagasr_stream as ss

    builtins = (ValueError, TypeError, RuntimeError, OSError)
    for cls in (c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, SagasrError)):
        assert cls is SagasrError or issubclass(cls, builtins), cls
        assert getattr(ss, cls.__name__) is cls and cls.__name__ in ss.__all__, cls
    assert issubclass(errors.BundleError, ValueError)


def test_a_missing_bundle_is_a_file_not_found_error(tmp_path, monkeypatch):
    import sagasr_stream as ss

    with pytest.raises(FileNotFoundError, match="model bundle not found"):
        ss.SagaSRModel.load(tmp_path / "no-such-bundle")
    with pytest.raises(ss.BundleNotFoundError):
        ss.Restorer.load(str(tmp_path / "typo.zip"))
    monkeypatch.setenv("SAGASR_MODEL", str(tmp_path / "gone"))
    with pytest.raises(FileNotFoundError):
        ss.SagaSRModel.load()


def test_restore_file_raises_the_builtin_errors_a_caller_catches(tiny_model, tmp_path):
    import sagasr_stream as ss

    with pytest.raises(FileNotFoundError, match="input file not found"):
        ss.restore_file(tmp_path / "missing.wav", tmp_path / "out.wav", tiny_model)
    source, existing = tmp_path / "in.wav", tmp_path / "out.wav"
    for path in (source, existing):
        path.write_bytes(b"")
    with pytest.raises(FileExistsError, match="output exists") as info:
        ss.restore_file(source, existing, tiny_model)
    assert isinstance(info.value, ss.OutputExistsError) and isinstance(info.value, ss.AudioFileError)
