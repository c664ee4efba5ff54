"""Arguments are checked at the edge, with one error naming the argument, the value and what is accepted:
``layout``, ``windows_per_call``, ``band_limit_hz``, ``output_rate`` and other rates, ``reset``; NaN/Inf are named
by their index in the caller's array; float arrays in either byte order are taken; masked arrays are refused."""
import os
import re

import numpy as np
import pedalboard
import pytest

from sagasr_stream import (
    AudioInputError, AudioTypeError, ResampleStage, Restorer, Series, StreamingRestorer, StreamingUpsampler, restore,
    upsample,
)
from sagasr_stream.chain import Chain
from sagasr_stream.effect import BandwidthExtension
from sagasr_stream.errors import ParameterError, ParameterTypeError
from sagasr_stream.validation import check_dtype, prepare_audio
from tests.conftest import band_limited_noise

SR = 44100
STEREO = band_limited_noise(3000, channels=2, seed=4)


# --- layout ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("layout", ["foo", "Mono", "channels-last", "", 5, ("channels_first",)])
@pytest.mark.parametrize("entry", [restore, upsample])
def test_an_unknown_layout_is_refused_naming_the_accepted_ones(tiny_model, entry, layout):
    # "foo" was taken as "channels_last": (2, 3000) restored as 3000 channels of 2 samples
    with pytest.raises(ParameterError, match=r"layout must be one of 'mono', 'channels_first', 'channels_last' or "
                                             r"None .* got " + re.escape(repr(layout))):
        entry(STEREO, SR, tiny_model, layout=layout)


def test_layout_mono_on_a_2d_array_names_the_layout_and_the_shape(tiny_model):
    with pytest.raises(AudioInputError, match=r"layout 'mono' needs a 1-D array \(samples,\), got shape \(2, 3000\)"):
        restore(STEREO, SR, tiny_model, layout="mono")


@pytest.mark.parametrize("layout", ["channels_first", "channels_last"])
def test_a_2d_layout_on_a_1d_array_names_the_layout_and_the_shape(tiny_model, layout):
    with pytest.raises(AudioInputError, match=rf"layout '{layout}' needs a 2-D array .*got shape \(3000,\)"):
        restore(STEREO[0], SR, tiny_model, layout=layout)


@pytest.mark.parametrize("audio, layout, planar_shape", [
    (STEREO, "channels_first", (2, 3000)), (STEREO.T, "channels_last", (2, 3000)), (STEREO[0], "mono", (1, 3000)),
    (STEREO, None, (2, 3000)), (STEREO.T, None, (2, 3000)), (STEREO[0], None, (1, 3000)),
    (STEREO, "channels_last", (3000, 2)),  # an explicit layout is obeyed
])
def test_the_accepted_layouts_still_work(audio, layout, planar_shape):
    planar, resolved = prepare_audio(audio, layout)
    assert planar.shape == planar_shape and resolved == (layout or resolved)


# --- windows_per_call and band_limit_hz -------------------------------------------------------------------------

def _streaming_restorer(model, windows_per_call):
    return StreamingRestorer(model, windows_per_call=windows_per_call)


def _bandwidth_extension(model, windows_per_call):
    return BandwidthExtension(model, windows_per_call=windows_per_call)


def _upsampler(model, windows_per_call):
    return StreamingUpsampler(16000, 1, model, windows_per_call=windows_per_call)


@pytest.mark.parametrize("make", [_streaming_restorer, _bandwidth_extension, _upsampler])
@pytest.mark.parametrize("value", [1.5, 2.0, "2", True, np.bool_(True), None, 0, -1, np.int64(0)])
def test_windows_per_call_must_be_a_positive_integer(tiny_model, make, value):
    # 1.5 was accepted (a float latency, then a TypeError in flush); '2' was a bare TypeError; True taken as 1
    message = "windows_per_call must be a positive integer, got " + re.escape(repr(value))
    with pytest.raises(ParameterError, match=message):
        make(tiny_model, value)


@pytest.mark.parametrize("make", [_streaming_restorer, _bandwidth_extension, _upsampler])
def test_windows_per_call_may_be_a_numpy_integer(tiny_model, make):
    latency = {_streaming_restorer: "latency_samples", _bandwidth_extension: "reported_latency_samples",
               _upsampler: "latency_samples"}[make]
    got = getattr(make(tiny_model, np.int64(2)), latency)
    assert got == getattr(make(tiny_model, 2), latency) and type(got) is int


@pytest.mark.parametrize("value", [0, 0.0, -100.0, "8000", float("nan"), float("inf"), 30000, True, [8000]])
def test_streaming_restorer_checks_band_limit_hz_as_restorer_does(tiny_model, value):
    # 0, -100 were accepted; '8000' was a bare TypeError; nan a ValueError deep in the engine
    message = r"band_limit_hz must be a frequency in Hz in \(0, 22050\] \(the model's Nyquist\), got "
    with pytest.raises(ParameterError, match=message):
        StreamingRestorer(tiny_model, band_limit_hz=value)
    with pytest.raises(ParameterError, match=message):
        Restorer(tiny_model, band_limit_hz=value)


@pytest.mark.parametrize("value", [None, 1000.0, 8000, 22050.0, np.float32(8000), np.int64(8000)])
def test_valid_band_limits_are_taken(tiny_model, value):
    StreamingRestorer(tiny_model, band_limit_hz=value)
    limit = Restorer(tiny_model, band_limit_hz=value).band_limit_hz
    assert limit is None if value is None else (limit == float(value) and type(limit) is float)


# --- rates ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("make, message", [
    (lambda m: restore(STEREO, SR, m, output_rate="48000"), "^output_rate must be a number in Hz, got str"),
    (lambda m: restore(STEREO, SR, m, output_rate=48000.5), "^output_rate must be a whole number of Hz"),
    (lambda m: restore(STEREO, SR, m, output_rate=10**6), "^unsupported sample rate 1000000 Hz for output_rate "),
    (lambda m: StreamingUpsampler(16000.5, 1, m), "^source_sample_rate must be a whole number of Hz, got 16000.5"),
    (lambda m: ResampleStage(16000.5, SR, 1), "^source_rate must be a whole number of Hz"),
    (lambda m: ResampleStage(16000, "44100", 1), "^target_rate must be a number in Hz"),
    (lambda m: restore(STEREO, 0, m), "^unsupported sample rate 0 Hz for sample_rate "),
])
def test_a_bad_rate_is_named_by_its_argument(tiny_model, make, message):
    with pytest.raises(AudioInputError, match=message):
        make(tiny_model)


# --- NaN/Inf are named in the caller's layout ------------------------------------------------------------------

def _with_nan(audio: np.ndarray, index: tuple[int, ...]) -> np.ndarray:
    audio = audio.copy()
    audio[index] = np.nan
    return audio


@pytest.mark.parametrize("audio, index", [
    (STEREO[0], (100,)), (STEREO, (1, 7)), (np.ascontiguousarray(STEREO.T), (7, 1)), (STEREO[:1], (0, 9)),
])
def test_restore_names_a_nan_by_its_index_in_the_callers_array(tiny_model, audio, index):
    with pytest.raises(AudioInputError, match=rf"the first at index \({', '.join(map(str, index))},?\)$"):
        restore(_with_nan(audio, index), SR, tiny_model)


def test_a_stream_names_a_nan_in_a_1d_block_by_its_index_in_the_block(tiny_model):
    with pytest.raises(AudioInputError, match=r"block holds 1 NaN/Inf sample\(s\), the first at index \(5,\)$"):
        StreamingRestorer(tiny_model).process(_with_nan(STEREO[0], (5,)))


@pytest.mark.parametrize("effect", ["BandwidthExtension", "Chain"])
def test_an_effect_names_a_nan_by_its_index_in_the_callers_array(tiny_model, effect):
    fx = BandwidthExtension(tiny_model) if effect == "BandwidthExtension" else Chain([pedalboard.Gain(0)])
    with pytest.raises(AudioInputError, match=r"input_array holds 1 NaN/Inf sample\(s\), the first at index \(7, 1\)$"):
        fx(_with_nan(np.ascontiguousarray(STEREO.T), (7, 1)), SR)


def test_a_float64_sample_beyond_float32s_range_is_named_as_such_not_as_nan(tiny_model):
    audio = STEREO[0].astype(np.float64)
    audio[12] = 1e300  # finite, but infinite as float32
    with pytest.raises(AudioInputError, match=r"1 sample\(s\) beyond float32's range .* 1e\+300 at index \(12,\)"):
        restore(audio, SR, tiny_model)


# --- byte order -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [">f4", ">f8", "<f4", "<f8"])
def test_float_samples_in_either_byte_order_are_taken_as_native_float32(dtype):
    audio = STEREO.astype(dtype)
    checked = check_dtype(audio)
    assert checked.dtype == np.float32 and checked.dtype.isnative
    np.testing.assert_array_equal(checked, STEREO.astype(np.float64).astype(dtype).astype(np.float32))
    planar, _ = prepare_audio(audio)
    np.testing.assert_array_equal(planar, checked)


def test_restore_takes_big_endian_float32_and_gives_the_same_result(tiny_model):
    x = band_limited_noise(12000, seed=6)
    np.testing.assert_array_equal(restore(x.astype(">f4"), SR, tiny_model), restore(x, SR, tiny_model))


@pytest.mark.parametrize("dtype", [">i2", ">f2"])
def test_other_big_endian_dtypes_are_still_refused(dtype):
    from sagasr_stream import AudioTypeError

    with pytest.raises(AudioTypeError, match="expected float32 or float64"):
        check_dtype(np.zeros(10, dtype))


# --- masked arrays ----------------------------------------------------------------------------------------------

def _masked(audio: np.ndarray, dtype: str) -> np.ma.MaskedArray:
    """``audio`` as a masked array with a burst of masked samples holding junk underneath (a masked array's values
    under its mask are whatever was there)."""
    data = audio.astype(dtype)
    data[..., 100:110] = 0.9
    mask = np.zeros(data.shape, bool)
    mask[..., 100:110] = True
    return np.ma.MaskedArray(data, mask=mask)


MASKED_ENTRIES = {
    "restore": lambda m, x: restore(x, SR, m),
    "upsample": lambda m, x: upsample(x, SR, m),
    "Restorer.restore": lambda m, x: Restorer(m).restore(x),
    "StreamingRestorer.process": lambda m, x: StreamingRestorer(m).process(x),
    "StreamingUpsampler.process": lambda m, x: StreamingUpsampler(16000, 2, m).process(x),
    "Restorer.stream": lambda m, x: Restorer(m).stream(2).process(x),
    "BandwidthExtension": lambda m, x: BandwidthExtension(m)(x, SR),
    "Chain": lambda m, x: Chain([pedalboard.Gain(0), BandwidthExtension(m)])(x, SR),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("entry", sorted(MASKED_ENTRIES))
def test_a_masked_array_is_refused_naming_the_fix(tiny_model, entry, dtype):
    """A masked array was restored from the values under its mask (junk: here a 0.9 burst), the mask ignored
    without a word; now the edge that checks every array's dtype refuses it and says how to fill it."""
    with pytest.raises(AudioTypeError, match=r"^\w+ is a masked array \(20 of 6000 samples masked\), .*; fill the "
                                             r"masked samples first \(\w+\.filled\(0\.0\)\)$"):
        MASKED_ENTRIES[entry](tiny_model, _masked(STEREO, dtype))


# --- reset is a bool ------------------------------------------------------------------------------------------

def _effects(model):
    return {"BandwidthExtension": BandwidthExtension(model), "Chain": Chain([pedalboard.Gain(0)])}


@pytest.mark.parametrize("effect", ["BandwidthExtension", "Chain"])
@pytest.mark.parametrize("reset", [None, "no", "False", 0, 1, [], np.int64(1)])
def test_reset_must_be_a_bool(tiny_model, effect, reset):
    # reset=None silently started a stream; reset="no" acted as True
    fx = _effects(tiny_model)[effect]
    with pytest.raises(ParameterTypeError, match="reset must be True or False, got " + re.escape(repr(reset))):
        fx(STEREO[0], SR, reset=reset)


@pytest.mark.parametrize("effect", ["BandwidthExtension", "Chain"])
@pytest.mark.parametrize("reset", [True, False, np.bool_(True), np.bool_(False)])
def test_reset_takes_python_and_numpy_bools(tiny_model, effect, reset):
    empty = np.zeros((0,), np.float32)  # no samples: nothing runs, the call's arguments are checked all the same
    assert _effects(tiny_model)[effect](empty, SR, reset=reset).shape == (0,)


@pytest.mark.parametrize("kwargs", [{"windows_per_call": 1.5}, {"windows_per_call": True}, {"channels": 0},
                                    {"channels": 2.0}, {"band_limit_hz": -100.0}, {"band_limit_hz": "8000"}])
def test_restorer_stream_refuses_bad_arguments(tiny_model, kwargs):
    from sagasr_stream.errors import ParameterError
    from sagasr_stream.restorer import Restorer

    with pytest.raises(ParameterError):
        Restorer(tiny_model).stream(**kwargs)


def test_restorer_stream_takes_numpy_integers(tiny_model):
    from sagasr_stream.restorer import Restorer

    assert Restorer(tiny_model).stream(np.int64(2), np.int64(1)).channels == 2


@pytest.mark.parametrize("planar, error, message", [
    # a (samples, channels) array was restored as 3000 channels of 2 samples, without a word
    (STEREO.T.copy(), AudioInputError, r"planar must be a \(channels, samples\) array, got shape \(3000, 2\)"),
    (STEREO[0], AudioInputError, r"got shape \(3000,\).*sagasr_stream.restore"),  # read as 3000 channels
    (STEREO.tolist(), AudioTypeError, "planar must be a numpy.ndarray"),  # an AttributeError from .shape
    (np.full((1, 100), np.nan, np.float32), AudioInputError, "NaN/Inf"),
])
def test_restorer_restore_takes_planar_arrays_only(tiny_model, planar, error, message):
    with pytest.raises(error, match=message):
        Restorer(tiny_model).restore(planar)


def test_restorer_restore_still_takes_planar_float_arrays(tiny_model):
    restorer = Restorer(tiny_model)
    assert np.array_equal(restorer.restore(STEREO.astype(np.float64)), restorer.restore(STEREO))
    assert restorer.restore(np.zeros((2, 0), np.float32)).shape == (2, 0)


# --- the stream stages are an edge too ---------------------------------------------------------------------------

def _stages(model):
    return {"ResampleStage": ResampleStage(16000, SR, 2), "Restorer.stream": Restorer(model).stream(2),
            "Series": Series([ResampleStage(16000, SR, 2), Restorer(model).stream(2)])}


@pytest.mark.parametrize("stage", ["ResampleStage", "Restorer.stream", "Series"])
@pytest.mark.parametrize("block, error, message", [
    ((STEREO * 32767).astype(np.int16), AudioTypeError, "block has dtype int16"),  # was scaled up 32767x, silently
    (STEREO.astype(np.complex64), AudioTypeError, "block has dtype complex64"),
    (STEREO.tolist(), AudioTypeError, "block must be a numpy.ndarray, got list"),
    (np.where(np.arange(3000) == 3, np.nan, STEREO).astype(np.float32), AudioInputError,
     r"block holds 2 NaN/Inf sample\(s\), the first at index \(0, 3\)"),  # one NaN made both channels all NaN
])
def test_a_stage_refuses_what_is_no_audio_block(tiny_model, stage, block, error, message):
    with pytest.raises(error, match=message):
        _stages(tiny_model)[stage].process(block)


def test_a_series_and_a_resample_stage_refuse_bad_arguments():
    with pytest.raises(ParameterTypeError, match="stage 1 of the Series is a int"):
        Series([ResampleStage(16000, SR, 1), 2])
    with pytest.raises(ParameterTypeError, match="a Series takes a list of stages, got ResampleStage"):
        Series(ResampleStage(16000, SR, 1))
    for length in (1.5, -5, "10", True):
        with pytest.raises(ParameterError, match="length must be None or a whole number"):
            ResampleStage(16000, SR, 1, length=length)
    assert ResampleStage(16000, SR, np.int64(2), length=np.int64(10)).channels == 2


# --- Chain ---------------------------------------------------------------------------------------------------------

def test_a_chain_buffer_refused_mid_stream_leaves_the_stream_intact(tiny_model):
    """A mono buffer into a stereo stream used to run the native stages and store the channel count before the
    effect refused it: the stream's tail was lost and flush() raised numpy's concatenate error."""
    def chain():
        return Chain([pedalboard.HighpassFilter(40), BandwidthExtension(tiny_model), pedalboard.Gain(-3)])

    clean = chain()
    expected = np.concatenate([clean(STEREO, SR, reset=False), clean.flush()], axis=1)
    streamed = chain()
    head = streamed(STEREO, SR, reset=False)
    with pytest.raises(AudioInputError, match="a 2-channel stream is in progress; got 1 channel"):
        streamed(STEREO[:1], SR, reset=False)
    np.testing.assert_array_equal(np.concatenate([head, streamed.flush()], axis=1), expected)


def test_an_empty_chain_returns_a_new_array():
    for audio in (STEREO, STEREO[0], STEREO.T):
        out = Chain([])(audio, SR)
        np.testing.assert_array_equal(out, audio)
        assert not np.shares_memory(out, audio)


@pytest.mark.parametrize("plugins", [None, pedalboard.Gain(-3), "gain", 5])
def test_a_chain_takes_a_list_of_plugins(plugins):
    with pytest.raises(ParameterTypeError, match="a Chain takes a list of plugins"):
        Chain(plugins)


# --- numbers beyond float, restore_file's arguments ---------------------------------------------------------------

@pytest.mark.parametrize("field", ["band_gain", "cfg_acoustic", "target_rolloff_hz", "band_ceiling", "sbr_blend"])
def test_an_int_beyond_float_is_refused_by_name(tiny_model, field):
    from sagasr_stream.errors import SettingsError
    from sagasr_stream.settings import RestoreSettings

    with pytest.raises(SettingsError, match=field):  # was OverflowError from math.isfinite
        Restorer(tiny_model, RestoreSettings(**{field: 10 ** 400}))


def test_huge_steps_batch_sizes_rates_and_band_limits_are_refused_by_name(tiny_model):
    from sagasr_stream.errors import SettingsError
    from sagasr_stream.settings import RestoreSettings

    with pytest.raises(SettingsError, match=r"steps must be an integer in 1\.\.1000, got 10000"):
        Restorer(tiny_model, RestoreSettings(steps=10_000))  # 10 ** 30 failed in numpy's linspace
    with pytest.raises(SettingsError, match=r"batch_size must be an integer in 1\.\.1024"):
        Restorer(tiny_model, RestoreSettings(batch_size=10 ** 30))
    with pytest.raises(AudioInputError, match="unsupported sample rate"):
        restore(STEREO, 10 ** 30, tiny_model)  # was TypeError from numpy's isfinite
    with pytest.raises(ParameterError, match="band_limit_hz must be a frequency"):
        Restorer(tiny_model, band_limit_hz=10 ** 400)


def test_restore_file_checks_its_arguments_before_touching_a_file(tiny_model, tmp_path):
    from pedalboard.io import AudioFile

    from sagasr_stream import restore_file
    from sagasr_stream.errors import AudioFileError

    source, out = tmp_path / "in.wav", tmp_path / "out.wav"
    with AudioFile(str(source), "w", 16000, 1) as f:
        f.write(STEREO[:1])
    out.write_bytes(b"the user's file")
    for kwargs, message in (({"overwrite": "no"}, "overwrite must be True or False, got 'no'"),
                            ({"overwrite": 1}, "overwrite must be True or False, got 1"),
                            ({"progress": 5}, "progress must be a function or None, got 5"),
                            ({"log": "x"}, "log must be a function or None")):
        with pytest.raises(ParameterTypeError, match=message):  # "no" and 1 overwrote the output
            restore_file(source, out, tiny_model, **kwargs)
    assert out.read_bytes() == b"the user's file"
    with pytest.raises(ParameterTypeError, match="source must be a path"):
        restore_file(None, out, tiny_model)
    with pytest.raises(ParameterError, match=r"bit_depth must be one of \(16, 24, 32\), got 24.0"):
        restore_file(source, tmp_path / "o.flac", tiny_model, bit_depth=24.0)
    (tmp_path / "x.wav").mkdir()
    with pytest.raises(AudioFileError, match="x.wav: it is a folder"):  # was "pass overwrite=True", then EISDIR
        restore_file(source, tmp_path / "x.wav", tiny_model, overwrite=True)


def test_a_nul_byte_in_a_path_is_named_before_any_work(tiny_model, tmp_path):
    """No file name holds a NUL byte: the source's raised pathlib's bare "ValueError: embedded null byte" from
    deep inside, the destination's failed only at the final rename, after the whole file was restored."""
    from pedalboard.io import AudioFile

    from sagasr_stream import restore_file

    source = tmp_path / "in.wav"
    with AudioFile(str(source), "w", 16000, 1) as f:
        f.write(STEREO[:1])
    progress = []
    with pytest.raises(ParameterError, match=r"source holds a NUL byte \('\\x00'\)"):
        restore_file(str(tmp_path / "in\x00.wav"), tmp_path / "out.wav", tiny_model)
    with pytest.raises(ParameterError, match="destination holds a NUL byte"):
        restore_file(source, str(tmp_path / "out\x00.wav"), tiny_model, progress=lambda *a: progress.append(a))
    assert progress == [] and os.listdir(tmp_path) == ["in.wav"]


def test_a_folder_as_the_destination_is_named_as_one(tiny_model, tmp_path):
    """restore_file(src, "out") with out/ a folder said "output format must be one of ...", as if a suffix were
    missing: the folder check came after the suffix check."""
    from sagasr_stream import restore_file
    from sagasr_stream.errors import AudioFileError

    (tmp_path / "out").mkdir()
    with pytest.raises(AudioFileError, match=r"out: it is a folder \(name an output file\)"):
        restore_file(tmp_path / "in.wav", tmp_path / "out", tiny_model)


def test_an_effect_cannot_be_copied_into_a_second_stream(tiny_model):
    """copy.copy shared the stream, lock and layout cache (the copy's call wiped the original's stream) and passed a
    chain's same-instance check; pedalboard's own plugins refuse copy.copy too."""
    import copy
    import pickle

    effect = BandwidthExtension(tiny_model)
    for duplicate in (copy.copy, copy.deepcopy, pickle.dumps):
        with pytest.raises(TypeError, match="BandwidthExtension"):
            duplicate(effect)
    assert BandwidthExtension(effect.restorer).restorer is effect.restorer  # the way to a second one


def test_an_instance_hidden_in_a_nested_chain_counts_as_a_duplicate(tiny_model):
    effect = BandwidthExtension(tiny_model)
    with pytest.raises(ParameterError, match="appears twice in the chain"):
        Chain([Chain([pedalboard.Gain(-2), effect]), effect])  # streamed, it mixed two streams in one instance


def test_a_square_buffer_to_an_effect_says_how_pedalboard_resolves_it(tiny_model):
    with pytest.raises(AudioInputError, match="process a non-square buffer first"):
        BandwidthExtension(tiny_model)(np.ones((2, 2), np.float32), SR)
    with pytest.raises(AudioInputError, match="give layout='channels_first' or 'channels_last'"):
        restore(np.ones((2, 2), np.float32), SR, tiny_model)


# --- loading and the model argument ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, name", [
    (dict(allow_torchscript="no"), "allow_torchscript"),  # truthy: it would have allowed code from the bundle to run
    (dict(allow_torchscript=1), "allow_torchscript"), (dict(verify="false"), "verify"), (dict(verify=None), "verify"),
])
def test_load_flags_must_be_bools(tiny_bundle, kwargs, name):
    from sagasr_stream import SagaSRModel

    with pytest.raises(ParameterTypeError, match=rf"{name} must be True or False, got {re.escape(repr(kwargs[name]))}"):
        SagaSRModel.load(tiny_bundle, **kwargs)
    if "allow_torchscript" in kwargs:
        with pytest.raises(ParameterTypeError, match=name):
            Restorer.load(tiny_bundle, **kwargs)


def test_a_bundle_path_of_another_type_is_named(tiny_model):
    from sagasr_stream import SagaSRModel

    with pytest.raises(ParameterTypeError, match=r"path must be a path \(str or os.PathLike\), got int"):
        SagaSRModel.load(3)  # type: ignore[arg-type]


@pytest.mark.parametrize("make", [
    lambda model: Restorer(model), lambda model: restore(STEREO, SR, model), lambda model: StreamingRestorer(model),
    lambda model: BandwidthExtension(model),
])
def test_a_path_for_model_is_a_type_error_saying_how_to_load_it(tiny_bundle, make):
    with pytest.raises(ParameterTypeError, match=r"model must be a SagaSRModel.*got (str|PosixPath).*Restorer.load"):
        make(str(tiny_bundle))
    with pytest.raises(ParameterTypeError, match="model must be a SagaSRModel"):
        make(tiny_bundle)


@pytest.mark.parametrize("settings", [{}, 0, "", []])
def test_empty_settings_of_another_type_are_refused_not_taken_for_the_defaults(tiny_model, settings):
    with pytest.raises(ParameterTypeError, match="settings must be a RestoreSettings"):
        Restorer(tiny_model, settings)  # type: ignore[arg-type]


@pytest.mark.parametrize("output_rate", [0, False, -44100])
def test_upsample_refuses_an_output_rate_of_zero_instead_of_using_the_default(tiny_model, output_rate):
    # output_rate=0 (or False) gave the model's rate, where restore() refuses it
    with pytest.raises(AudioInputError, match="output_rate"):
        upsample(STEREO[0, :2000], 16000, tiny_model, output_rate=output_rate)


@pytest.mark.parametrize("mono", ["no", 0, 1])
def test_streaming_flush_mono_must_be_a_bool(tiny_model, mono):
    with pytest.raises(ParameterTypeError, match="mono must be True or False"):
        StreamingRestorer(tiny_model).flush(mono=mono)
