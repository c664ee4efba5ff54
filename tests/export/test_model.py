"""Model definition: config validation, shapes, null conditions, text masking, checkpoints, SAO loading."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from sagasr_export.model.checkpoint import load_checkpoint, load_stable_audio_open, save_checkpoint
from sagasr_export.model import build_dit, build_model, load_config, named_config

from .conftest import randomize


def _dit_inputs(model, b=2, frames=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    c, s, d = model.config.vae.latent_dim, model.config.text.max_tokens, model.text_encoder.dim
    return dict(x=torch.randn(b, c, frames, generator=g), t=torch.rand(b, generator=g),
                lr_latent=torch.randn(b, c, frames, generator=g), lr_keep=torch.ones(b),
                text_tokens=torch.randn(b, s, d, generator=g), cross_keep=torch.ones(b),
                rolloff_in=torch.rand(b, generator=g), rolloff_out=torch.rand(b, generator=g))


@pytest.mark.parametrize("name", ["tiny", "small", "full"])
def test_shipped_configs_validate(name):
    cfg = named_config(name)
    assert cfg.downsampling == 2048 and cfg.window_samples % cfg.downsampling == 0


@pytest.mark.parametrize("change, key", [
    ({"window_samples": 65537}, "window_samples"),
    ({"vae": {"strides": [2, 4]}}, "vae.c_mults"),
    ({"dit": {"embed_dim": 64, "num_heads": 3}}, "dit.embed_dim"),
    ({"text": {"kind": "clap", "path": "x"}}, "text.kind"),
    ({"bogus": 1}, "bogus"),
    ({"dit": {"width": 3}}, "width"),
])
def test_bad_config_names_the_key(change, key):
    data = json.loads(json.dumps(named_config("tiny").to_dict()))
    for k, v in change.items():
        if isinstance(v, dict) and isinstance(data.get(k), dict):
            data[k].update(v)
        else:
            data[k] = v
    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        load_config(data)


def test_full_dit_has_about_1_05_billion_parameters():
    cfg = named_config("full")
    with torch.device("meta"):
        dit = build_dit(cfg)
    n = sum(p.numel() for p in dit.parameters())
    assert 1.0e9 < n < 1.1e9, n
    assert dit.input_concat_dim == 64 and dit.to_global_embed[0].in_features == 1536


def test_shapes_and_vae_roundtrip(tiny_model):
    audio = torch.randn(3, 1, 4096) * 0.1
    with torch.no_grad():
        z = tiny_model.encode_audio(audio)
        assert z.shape == (3, 8, 2) and torch.equal(z, tiny_model.encode_audio(audio))  # deterministic mean
        assert tiny_model.decode_latent(z).shape == (3, 1, 4096)
    with pytest.raises(ValueError, match="multiple"):
        tiny_model.encode_audio(torch.zeros(1, 1, 1000))


def test_null_conditions(tiny_model):
    m, inp = tiny_model, _dit_inputs(tiny_model)
    with torch.no_grad():
        full = m.velocity(**inp)
        # cross_keep = 0: text tokens have no effect; cross_keep = 1: they do
        no_cross = dict(inp, cross_keep=torch.zeros(2))
        a = m.velocity(**no_cross)
        b = m.velocity(**dict(no_cross, text_tokens=torch.randn_like(inp["text_tokens"])))
        torch.testing.assert_close(a, b)
        assert (full - m.velocity(**dict(inp, text_tokens=torch.randn_like(inp["text_tokens"])))).abs().max() > 1e-4
        # the roll-off still reaches the model through the global vector when cross tokens are nulled
        assert (a - m.velocity(**dict(no_cross, rolloff_out=1 - inp["rolloff_out"]))).abs().max() > 1e-4
        # lr_keep = 0 is the constant null latent lr_null_value
        null = m.velocity(**dict(inp, lr_keep=torch.zeros(2)))
        const = m.velocity(**dict(inp, lr_latent=torch.full_like(inp["lr_latent"], m.config.lr_null_value)))
        torch.testing.assert_close(null, const)
        assert (null - full).abs().max() > 1e-4
        # rows are independent: a mixed batch equals the rows run alone
        mixed = m.velocity(**dict(inp, cross_keep=torch.tensor([0.0, 1.0])))
        torch.testing.assert_close(mixed[0], a[0], atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(mixed[1], full[1], atol=1e-5, rtol=1e-4)


def test_text_tokens_zero_where_masked_and_tokenizer_matches_runtime(tiny_model, tmp_path):
    from sagasr_stream.text import WordPieceTokenizer

    ids, mask = tiny_model.tokenize(["a bright piano with drums", "speech"])
    assert ids.dtype == torch.int64 and ids.shape == (2, tiny_model.config.text.max_tokens)
    tiny_model.text_encoder.write_tokenizer(tmp_path)
    rt_ids, rt_mask = WordPieceTokenizer(tmp_path / "vocab.txt", tiny_model.config.text.max_tokens)(["a bright piano with drums", "speech"])
    np.testing.assert_array_equal(ids.numpy(), rt_ids)
    np.testing.assert_array_equal(mask.numpy(), rt_mask)
    tokens = tiny_model.encode_text(ids, mask)
    assert tokens.shape == (2, ids.shape[1], tiny_model.text_encoder.dim)
    assert torch.all(tokens[mask == 0] == 0) and torch.all(tokens[mask == 1].abs().sum(-1) > 0)


def test_checkpoint_roundtrip(tiny_model, tmp_path):
    save_checkpoint(tiny_model, tmp_path / "ckpt")
    assert not list((tmp_path / "ckpt").glob("*.pt")) and (tmp_path / "ckpt" / "model.safetensors").is_file()
    loaded = load_checkpoint(tmp_path / "ckpt")
    inp = _dit_inputs(tiny_model)
    with torch.no_grad():
        torch.testing.assert_close(loaded.velocity(**inp), tiny_model.velocity(**inp), rtol=0, atol=0)
        ids, mask = tiny_model.tokenize(["warm bass"])
        torch.testing.assert_close(loaded.encode_text(ids, mask), tiny_model.encode_text(ids, mask), rtol=0, atol=0)
        audio = torch.randn(1, 1, 2048)
        torch.testing.assert_close(loaded.encode_audio(audio), tiny_model.encode_audio(audio), rtol=0, atol=0)


def test_load_stable_audio_open_layout(tiny_model, tmp_path):
    """A synthetic SAO-layout file (stereo VAE, DiT without input concat) maps onto our mono model."""
    from safetensors.torch import save_file
    from stable_audio_tools.models.autoencoders import AudioAutoencoder, OobleckDecoder, OobleckEncoder
    from stable_audio_tools.models.bottleneck import VAEBottleneck
    from stable_audio_tools.models.dit import DiffusionTransformer

    cfg = tiny_model.config
    v, d = cfg.vae, cfg.dit
    kw = dict(channels=v.channels, c_mults=v.c_mults, strides=v.strides, use_snake=True)
    torch.manual_seed(1)
    sao_vae = AudioAutoencoder(OobleckEncoder(in_channels=2, latent_dim=2 * v.latent_dim, **kw),
                               OobleckDecoder(out_channels=2, latent_dim=v.latent_dim, final_tanh=False, **kw),
                               latent_dim=v.latent_dim, downsampling_ratio=2048, sample_rate=44100, io_channels=2,
                               bottleneck=VAEBottleneck())
    sao_dit = DiffusionTransformer(io_channels=v.latent_dim, embed_dim=d.embed_dim, depth=d.depth, num_heads=d.num_heads,
                                   cond_token_dim=d.cond_token_dim, project_cond_tokens=d.project_cond_tokens,
                                   global_cond_dim=2 * d.cond_token_dim)
    randomize(sao_dit, seed=3)
    state = {f"pretransform.model.{k}": t for k, t in sao_vae.state_dict().items()}
    state.update({f"model.model.{k}": t for k, t in sao_dit.state_dict().items()})
    save_file({k: t.contiguous() for k, t in state.items()}, str(tmp_path / "sao.safetensors"))
    model = load_checkpoint_like(tiny_model, tmp_path)
    report = load_stable_audio_open(model, tmp_path / "sao.safetensors")
    assert "dit.transformer.project_in.weight" in report["adapted"]
    audio = torch.randn(1, 1, 4096) * 0.1
    with torch.no_grad():
        ours = model.encode_audio(audio)
        theirs = sao_vae.encoder(audio.repeat(1, 2, 1)).chunk(2, dim=1)[0]
        scale = cfg.latent_scale  # ours are SAO's latents x latent_scale (1 in the full config)
        torch.testing.assert_close(ours, theirs * scale, atol=1e-3, rtol=1e-3)  # weight norm refolded
        z = torch.randn(1, v.latent_dim, 2)
        torch.testing.assert_close(model.decode_latent(z * scale), sao_vae.decoder(z).mean(1, keepdim=True),
                                   atol=1e-4, rtol=1e-4)
        # the LR-latent channels start at zero weight: the DiT ignores lr_latent like SAO would
        inp = _dit_inputs(model, frames=4)
        torch.testing.assert_close(model.velocity(**inp), model.velocity(**dict(inp, lr_latent=torch.zeros_like(inp["lr_latent"]))))


def load_checkpoint_like(model, tmp_path):
    save_checkpoint(model, tmp_path / "base")
    return load_checkpoint(tmp_path / "base")


def test_latent_scale_scales_encoding_and_undoes_it_before_decoding(tiny_model):
    scale = tiny_model.config.latent_scale
    assert scale != 1.0  # the tiny config sets one so that every parity test covers it
    audio = torch.randn(1, 1, 4096) * 0.1
    with torch.no_grad():
        z = tiny_model.encode_audio(audio)
        raw = tiny_model.autoencoder.encoder(audio).chunk(2, dim=1)[0]
        torch.testing.assert_close(z, raw * scale)
        torch.testing.assert_close(tiny_model.decode_latent(z), tiny_model.autoencoder.decoder(raw))
    with pytest.raises(ValueError, match="latent_scale"):
        load_config({**named_config("tiny").to_dict(), "latent_scale": 0.0})
    with pytest.raises(ValueError, match="latent_shift has 2 values"):
        load_config({**named_config("tiny").to_dict(), "latent_shift": [0.0, 1.0]})
    # per-channel shift and scale
    c = tiny_model.config.vae.latent_dim
    cfg = load_config({**tiny_model.config.to_dict(), "latent_shift": [0.1 * k for k in range(c)],
                       "latent_scale": [1.0 + k for k in range(c)]})
    model = build_model_like(tiny_model, cfg)
    with torch.no_grad():
        raw = tiny_model.autoencoder.encoder(audio).chunk(2, dim=1)[0]
        shift = torch.tensor(cfg.latent_shift)[:, None]
        scale = torch.tensor(cfg.latent_scale)[:, None]
        torch.testing.assert_close(model.encode_audio(audio), (raw - shift) * scale)
        torch.testing.assert_close(model.decode_latent((raw - shift) * scale), tiny_model.autoencoder.decoder(raw))


def test_checkpoint_keeps_the_text_encoders_source_for_the_manifest(tmp_path):
    from sagasr_export.exporter import export_bundle
    from sagasr_export.model import build_model

    torch.manual_seed(0)
    model = build_model(named_config("small"))  # the packaged MiniLM, path "minilm"
    save_checkpoint(model, tmp_path / "ck")
    loaded = load_checkpoint(tmp_path / "ck")
    assert loaded.config.text.path is None and loaded.config.text.hf_config["sagasr_text_source"] == "minilm"
    manifest = export_bundle(loaded, tmp_path / "bundle", backend="onnx")
    assert manifest.text.encoder_name == "minilm"


def build_model_like(model, cfg):
    """A model with ``cfg`` and ``model``'s weights."""
    from sagasr_export.model import SagaSR

    other = SagaSR(cfg, text_encoder=model.text_encoder)
    other.load_state_dict(model.state_dict())
    return other.eval()


def test_weights_of_another_model_size_are_named_not_a_traceback(tiny_model, tmp_path):
    """A config and weights of different sizes: load_state_dict's RuntimeError (size mismatch) came out raw."""
    from safetensors.torch import save_file

    from sagasr_export.model import build_model
    from sagasr_export.model.checkpoint import load_vae_weights

    save_checkpoint(tiny_model, tmp_path / "ckpt")
    config = json.loads((tmp_path / "ckpt" / "config.json").read_text())
    config["dit"]["embed_dim"] = 2 * config["dit"]["embed_dim"]
    (tmp_path / "ckpt" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"checkpoint .*ckpt does not fit this model \(another size\?\)"):
        load_checkpoint(tmp_path / "ckpt")
    vae = {k: v.contiguous() for k, v in tiny_model.autoencoder.state_dict().items()}
    first = next(iter(vae))
    vae[first] = torch.zeros(*vae[first].shape[:-1], vae[first].shape[-1] + 1)
    save_file(vae, str(tmp_path / "autoencoder.safetensors"))
    with pytest.raises(ValueError, match="VAE weights .* does not fit this model"):
        load_vae_weights(build_model(tiny_model.config).autoencoder, tmp_path / "autoencoder.safetensors")


def test_repeat_live_tokens_fills_the_padding_with_the_captions_tokens_in_order():
    from sagasr_export.model.conditioners import repeat_live_tokens

    tokens = torch.zeros(3, 7, 2)
    tokens[0, :3] = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]])  # 3 live tokens, then zeros
    tokens[1, :7] = torch.arange(14.0).reshape(7, 2) + 1  # every position live: unchanged
    filled = repeat_live_tokens(tokens)  # row 2: an empty caption stays zero
    torch.testing.assert_close(filled[0], tokens[0, [0, 1, 2, 0, 1, 2, 0]])
    torch.testing.assert_close(filled[1], tokens[1])
    assert torch.all(filled[2] == 0)


def test_repeat_padding_reaches_the_dit_and_leaves_an_empty_caption_alone():
    """With "repeat", a one-token caption padded with zeros is the same condition as that token at every position
    (the padding no longer dilutes the caption's share of the cross-attention); with "zero" it is not. An empty
    caption is the same condition under both."""
    torch.manual_seed(0)
    data = json.loads(json.dumps(named_config("tiny").to_dict()))
    data["text"]["padding"] = "repeat"
    repeat = randomize(build_model(load_config(data))).eval()
    zero = randomize(build_model(named_config("tiny"))).eval()
    zero.load_state_dict(repeat.state_dict())
    inp = _dit_inputs(repeat)
    padded = torch.zeros_like(inp["text_tokens"])
    padded[:, 0] = torch.randn(padded.shape[0], padded.shape[2])
    everywhere = padded[:, :1].expand_as(padded).clone()
    with torch.no_grad():
        torch.testing.assert_close(repeat.velocity(**dict(inp, text_tokens=padded)),
                                   repeat.velocity(**dict(inp, text_tokens=everywhere)))
        assert (zero.velocity(**dict(inp, text_tokens=padded))
                - zero.velocity(**dict(inp, text_tokens=everywhere))).abs().max() > 1e-4
        empty = dict(inp, text_tokens=torch.zeros_like(padded))
        torch.testing.assert_close(repeat.velocity(**empty), zero.velocity(**empty))


def test_text_padding_is_validated():
    data = json.loads(json.dumps(named_config("tiny").to_dict()))
    data["text"]["padding"] = "mask"
    with pytest.raises(ValueError, match=r"text\.padding"):
        load_config(data)
