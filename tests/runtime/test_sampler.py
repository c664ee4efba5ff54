import numpy as np

from sagasr_stream.api import restore
from sagasr_stream.sampler import combine_guidance, latent_noise, sample
from sagasr_stream.settings import RestoreSettings, resolve
from tests.conftest import band_limited_noise


class RecordingBackend:
    """v = pass-dependent constants, so the guidance arithmetic can be checked by hand."""

    device = "fake"

    def __init__(self) -> None:
        self.calls: list[int] = []

    def velocity(self, x, t, lr_latent, lr_keep, text_tokens, cross_keep, rolloff_in, rolloff_out):
        self.calls.append(x.shape[0])
        # none: 1, acoustic: 2, full: 4
        value = 1.0 + lr_keep + 2.0 * cross_keep
        return np.broadcast_to(value[:, None, None], x.shape).astype(np.float32)


def test_guidance_formulas():
    v = np.array([1.0, 2.0, 4.0])[:, None, None]
    assert combine_guidance(v, 1, 1.4, 1.2, "official").item() == 1 + 1.4 * 1 + 1.2 * 2
    assert combine_guidance(v, 1, 1.4, 1.2, "independent").item() == 1 + 1.4 * 1 + 1.2 * 3


def test_default_guidance_scales_are_the_papers(tiny_model):
    resolved = resolve(RestoreSettings(), tiny_model.manifest)
    assert (resolved.cfg_acoustic, resolved.cfg_text, resolved.cfg_form) == (1.4, 1.2, "official")


def test_all_passes_of_all_windows_share_one_call_per_step():
    backend = RecordingBackend()
    n, c, t = 5, 4, 8
    out = sample(
        backend, np.zeros((n, c, t), np.float32), np.zeros((n, c, t), np.float32), np.zeros((n, 2, 3), np.float32),
        np.zeros(n, np.float32), np.zeros(n, np.float32), steps=10, cfg_acoustic=1.4, cfg_text=1.2,
    )
    assert backend.calls == [3 * n] * 10
    # x0 = noise - integral of v over t in [0, 1] = -(1 + 1.4 + 2.4)
    np.testing.assert_allclose(out, -4.8, rtol=1e-5)


def test_passes_with_no_weight_in_the_merge_are_not_run():
    """s_a = s_t = 1 merges to the full pass alone: one row per window, the same x0 as the three-pass merge."""
    n, c, t = 3, 4, 8
    args = (np.zeros((n, c, t), np.float32), np.zeros((n, c, t), np.float32), np.zeros((n, 2, 3), np.float32),
            np.zeros(n, np.float32), np.zeros(n, np.float32))
    for (s_a, s_t, form), rows, x0 in (((1.0, 1.0, "official"), 1, -4.0), ((1.0, 0.0, "official"), 1, -2.0),
                                       ((0.0, 0.0, "official"), 1, -1.0), ((2.0, 2.0, "official"), 2, -7.0),
                                       ((1.0, 1.0, "independent"), 3, -5.0)):
        backend = RecordingBackend()
        out = sample(backend, *args, steps=4, cfg_acoustic=s_a, cfg_text=s_t, form=form)
        assert backend.calls == [rows * n] * 4, (s_a, s_t, form)
        np.testing.assert_allclose(out, x0, rtol=1e-6)
        v = np.array([1.0, 2.0, 4.0])[:, None, None]  # the three-pass merge of the same constants
        assert np.isclose(-combine_guidance(v, 1, s_a, s_t, form).item(), x0)


def test_noise_is_keyed_by_absolute_frame():
    a = latent_noise(7, 0, 10, 8, 4)
    b = latent_noise(7, 0, 14, 8, 4)
    np.testing.assert_array_equal(a[:, 4:], b[:, :4])
    assert not np.allclose(latent_noise(7, 1, 10, 8, 4), a)
    assert not np.allclose(latent_noise(8, 0, 10, 8, 4), a)
    assert a.dtype == np.float32 and abs(a.std() - 1) < 0.5


def test_same_seed_same_output_other_seed_other_output(tiny_model):
    x = band_limited_noise(20000)
    y1 = restore(x, 44100, tiny_model, RestoreSettings(seed=3))
    y2 = restore(x, 44100, tiny_model, RestoreSettings(seed=3))
    y3 = restore(x, 44100, tiny_model, RestoreSettings(seed=4))
    np.testing.assert_array_equal(y1, y2)
    assert np.abs(y1 - y3).max() > 1e-3


def test_batch_size_does_not_change_the_result(tiny_model):
    x = band_limited_noise(40000, channels=2)
    results = [restore(x, 44100, tiny_model, RestoreSettings(batch_size=b)) for b in (1, 3, 8)]
    for other in results[1:]:
        np.testing.assert_allclose(other, results[0], atol=1e-5)


def test_guidance_settings_and_caption_change_the_output(tiny_model):
    x = band_limited_noise(20000)
    base = restore(x, 44100, tiny_model, RestoreSettings(low_band="off"))
    for change in (dict(cfg_text=3.0), dict(cfg_acoustic=0.0), dict(caption="warm piano"), dict(target_rolloff_hz=8000.0),
                   dict(steps=2), dict(cfg_form="independent")):
        other = restore(x, 44100, tiny_model, RestoreSettings(low_band="off", **change))
        assert np.abs(other - base).max() > 1e-4, change


class PassRecorder:
    """Records every DiT call's inputs; returns zeros."""

    device = "fake"

    def __init__(self) -> None:
        self.feeds: list[dict[str, np.ndarray]] = []

    def velocity(self, x, t, lr_latent, lr_keep, text_tokens, cross_keep, rolloff_in, rolloff_out):
        self.feeds.append(dict(x=x, t=t, lr_latent=lr_latent, lr_keep=lr_keep, text_tokens=text_tokens,
                               cross_keep=cross_keep, rolloff_in=rolloff_in, rolloff_out=rolloff_out))
        return np.zeros_like(x)


def test_passes_differ_only_in_the_keep_flags_and_keep_the_global_conditioning():
    rng = np.random.default_rng(0)
    n, c, t = 3, 4, 8
    noise, lr = rng.standard_normal((2, n, c, t)).astype(np.float32)
    text = rng.standard_normal((n, 2, 5)).astype(np.float32)
    rin, rout = np.array([0.1, 0.2, 0.3], np.float32), np.array([0.7, 0.8, 0.9], np.float32)
    backend = PassRecorder()
    sample(backend, noise, lr, text, rin, rout, steps=2, cfg_acoustic=1.4, cfg_text=1.2)
    for feed, time in zip(backend.feeds, (1.0, 0.5)):
        # rows [0:n] "none", [n:2n] "acoustic", [2n:3n] "full"
        np.testing.assert_array_equal(feed["lr_keep"], [0] * n + [1] * n + [1] * n)
        np.testing.assert_array_equal(feed["cross_keep"], [0] * n + [0] * n + [1] * n)
        for p in range(3):  # every pass sees the same x, t, LR latent, text and both roll-offs (the global vector)
            rows = slice(p * n, (p + 1) * n)
            np.testing.assert_array_equal(feed["rolloff_in"][rows], rin)
            np.testing.assert_array_equal(feed["rolloff_out"][rows], rout)
            np.testing.assert_array_equal(feed["lr_latent"][rows], lr)
            np.testing.assert_array_equal(feed["text_tokens"][rows], text)
            np.testing.assert_array_equal(feed["x"][rows], feed["x"][:n])
            np.testing.assert_array_equal(feed["t"][rows], np.float32(time))


def test_null_lr_is_the_constant_of_the_manifest(tiny_model):
    """lr_keep = 0 replaces the LR latent by the constant null latent (-5) inside the DiT graph."""
    m = tiny_model.manifest
    rng = np.random.default_rng(1)
    shape = (2, m.latent_channels, m.latent_frames)
    x = rng.standard_normal(shape).astype(np.float32)
    text = rng.standard_normal((2, 3, m.text.dim)).astype(np.float32)
    ones, zeros, half = np.ones(2, np.float32), np.zeros(2, np.float32), np.full(2, 0.5, np.float32)

    def v(lr, keep):
        return tiny_model.backend.velocity(x, half, lr, keep, text, ones, half, half)

    lr_a, lr_b = rng.standard_normal((2, *shape)).astype(np.float32)
    np.testing.assert_array_equal(v(lr_a, zeros), v(lr_b, zeros))
    np.testing.assert_allclose(v(lr_a, zeros), v(np.full(shape, m.lr_null_value, np.float32), ones), atol=1e-6)
    assert np.abs(v(lr_a, ones) - v(lr_b, ones)).max() > 1e-3
