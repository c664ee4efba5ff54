"""The package ships py.typed: a user's type checker reads its annotations. They must accept what the code takes
(a rate as pedalboard gives it, a float such as ``AudioFile.samplerate``) and name real types, not ``Any``."""
import inspect
import typing

import numpy as np
import pytest

import sagasr_stream as ss
from sagasr_stream.restorer import Restorer


@pytest.mark.parametrize("function, names", [
    (ss.restore, ("sample_rate", "output_rate")), (ss.upsample, ("sample_rate", "output_rate")),
    (ss.restore_file, ("output_rate",)), (ss.BandwidthExtension.process, ("sample_rate",)),
    (ss.Chain.process, ("sample_rate",)), (ss.StreamingUpsampler.__init__, ("source_sample_rate",)),
    (ss.ResampleStage.__init__, ("source_rate", "target_rate")), (Restorer.stream_at, ("sample_rate",)),
])
def test_every_rate_argument_is_annotated_to_take_a_float(function, names):
    hints = typing.get_type_hints(function)
    for name in names:
        assert float in typing.get_args(hints[name]) or hints[name] is float, (function.__qualname__, name, hints[name])


def test_a_whole_float_rate_works_as_annotated(tiny_model):
    x = np.zeros(3000, np.float32)
    assert ss.restore(x, 44100.0, tiny_model, output_rate=48000.0).shape == (round(3000 * 48000 / 44100),)


def test_the_lazy_batch_entry_point_has_its_real_signature_for_a_checker():
    """``sagasr_stream.distributed`` loads its driver on first use (``__getattr__``, typed ``Any``); a checker
    must see ``restore_batch``'s own signature, not ``Any``."""
    import sagasr_stream.distributed as distributed

    source = inspect.getsource(distributed)
    assert "if TYPE_CHECKING:" in source and "from .runner import BatchSummary, restore_batch" in source


@pytest.mark.parametrize("field, words", [
    ("target_rolloff_hz", {"auto", "model"}), ("band_ceiling", {"off"}), ("sbr_blend", {"off"}), ("sbr_level", {"off"}),
    ("band_smoothing", {"off"}), ("band_transients", {"off"}),
])
def test_the_words_a_number_setting_takes_are_in_its_annotation(field, words):
    """As for ``stereo`` or ``low_band`` (Literal), a checker flags a misspelt word ("Auto", "of"): ``str`` took any."""
    hint = typing.get_type_hints(ss.RestoreSettings)[field]
    args = typing.get_args(hint)
    literal = {w for a in args if typing.get_origin(a) is typing.Literal for w in typing.get_args(a)}
    assert str not in args and literal == words and float in args, hint


USER_CODE = '''
import numpy as np
import sagasr_stream as ss
from sagasr_stream.distributed import restore_batch

model = ss.SagaSRModel.load()
rate: float = 16000.0  # pedalboard.io.AudioFile.samplerate is a float
y = ss.restore(np.zeros(16000, np.float32), rate, model, output_rate=rate)
reveal_type(restore_batch(["in/"], "out/", workers=2))
ss.RestoreSettings(steps="8")
ss.RestoreSettings(stereo="midside")
ss.RestoreSettings(target_rolloff_hz="Auto")
ss.RestoreSettings(band_ceiling="of")
ss.RestoreSettings(target_rolloff_hz="model", band_ceiling="off", sbr_blend=0.5, sbr_level="off", band_transients="off")
'''


def test_mypy_accepts_correct_use_and_flags_wrong_types(tmp_path):
    from mypy import api  # a test dependency (the dev extra): missing, this fails rather than skips
    script = tmp_path / "user.py"
    script.write_text(USER_CODE)
    out, _, _ = api.run([str(script), "--no-incremental", "--cache-dir", str(tmp_path / "cache"),
                         "--ignore-missing-imports", "--follow-imports=silent"])
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert [int(line.split(":")[1]) for line in errors] == [10, 11, 12, 13], out
    assert 'Revealed type is "sagasr_stream.distributed.runner.BatchSummary"' in out, out


def test_every_public_object_has_a_repr_that_says_what_it_is(tiny_model):
    """Not ``<sagasr_stream.x.Y object at 0x...>``: the model's name, the rates, channels and latency."""
    restorer = Restorer(tiny_model)
    objects = {
        tiny_model: ("SagaSRModel", "'tiny-random'", "CPUExecutionProvider"),
        ss.StreamingRestorer(tiny_model, channels=2): ("'tiny-random'", "channels=2", "latency=8191"),
        ss.StreamingUpsampler(16000, 1, tiny_model): ("16000 -> 44100 Hz", "channels=1", "latency="),
        ss.ResampleStage(16000, 44100, 2): ("16000 -> 44100 Hz", "channels=2", "latency="),
        ss.Series([ss.ResampleStage(16000, 44100, 1)]): ("Series", "ResampleStage 16000 -> 44100 Hz"),
        restorer.stream(2): ("window=8192", "overlap=2048", "channels=2", "latency=8191"),
        restorer.stream_at(48000, 1): ("48000 Hz", "44100 Hz", "latency="),
    }
    for obj, parts in objects.items():
        text = repr(obj)
        assert " object at 0x" not in text and all(part in text for part in parts), text
