"""Caption adapters: metadata/sidecar, HTTP (local http.server), Qwen2-Audio (tiny random config), cache command."""
from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import numpy as np
import pytest

from sagasr_training.captions import (CaptionStore, HTTPCaptioner, MetadataCaptioner, Qwen2AudioCaptioner, caption_variants,
                                      generate_captions, metadata_caption, read_cache)


def test_metadata_captions(tmp_path: Path) -> None:
    a = tmp_path / "Jazz Trio" / "upright_bass-solo_03.wav"
    a.parent.mkdir()
    a.touch()
    assert metadata_caption(a) == "upright bass solo, jazz trio"
    b = tmp_path / "x.wav"
    b.touch()
    (tmp_path / "x.json").write_text(json.dumps({"instrument": "cello", "tags": ["slow", "warm"]}))
    assert metadata_caption(b) == "cello, slow, warm"
    (tmp_path / "x.wav.json").write_text(json.dumps({"caption": "A cello drone."}))
    assert metadata_caption(b) == "A cello drone."


class _Handler(BaseHTTPRequestHandler):
    seen: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Handler.seen.append({"body": body, "auth": self.headers.get("Authorization")})
        audio = body["messages"][0]["content"][0]["input_audio"]
        text = f"heard {len(audio['data'])} base64 chars as {audio['format']}"
        out = json.dumps({"choices": [{"message": {"role": "assistant", "content": text}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args) -> None:  # quiet
        pass


def test_http_captioner_against_local_server(monkeypatch: pytest.MonkeyPatch) -> None:
    server = HTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("TEST_CAPTION_KEY", "secret")
        cap = HTTPCaptioner(f"http://127.0.0.1:{server.server_port}/v1/chat/completions", model="m",
                            api_key_env="TEST_CAPTION_KEY")
        text = cap.caption(np.zeros(16000, np.float32))
        assert text.startswith("heard ") and text.endswith("as wav")
        req = _Handler.seen[-1]
        assert req["auth"] == "Bearer secret" and req["body"]["model"] == "m"
        assert req["body"]["messages"][0]["content"][1]["text"]
    finally:
        server.shutdown()
    with pytest.raises(ValueError, match="URL"):
        HTTPCaptioner("ftp://x")


def test_generate_captions_caches_and_resumes(audio_dir: Path, tmp_path: Path) -> None:
    cache = tmp_path / "c.jsonl"
    assert generate_captions(audio_dir, cache, MetadataCaptioner(), max_seconds=1.0, progress=False) == 5
    table = read_cache(cache)
    assert table["piano/piano_a.wav"] == "piano a, piano"
    assert generate_captions(audio_dir, cache, MetadataCaptioner(), progress=False) == 0  # cached
    with cache.open("a") as f:
        f.write('{"path": "torn')  # an interrupted write is ignored
    assert CaptionStore(cache, audio_dir).get(audio_dir / "guitar" / "strum_c.wav") == "strum c, guitar"


class _TinyProcessor:
    """Offline stand-in for Qwen2AudioProcessor: Whisper features (128 mel) + hand-built ids with the right
    number of audio tokens; decode maps ids to a tiny vocabulary."""

    def __init__(self, audio_token: int) -> None:
        from transformers import WhisperFeatureExtractor

        self.fe = WhisperFeatureExtractor(feature_size=128)
        self.audio_token = audio_token

    def __call__(self, text: str, audio: list, sampling_rate: int, return_tensors: str) -> dict:
        import torch

        feats = self.fe(audio, sampling_rate=sampling_rate, return_attention_mask=True, return_tensors="pt")
        n = int(feats["attention_mask"].sum())
        n_audio = ((n - 1) // 2 + 1 - 2) // 2 + 1
        ids = [1, 2] + [self.audio_token] * n_audio + [3, 4, 5]
        return {"input_ids": torch.tensor([ids]), "attention_mask": torch.ones(1, len(ids), dtype=torch.long),
                "input_features": feats["input_features"], "feature_attention_mask": feats["attention_mask"]}


def test_qwen2_audio_captioner_tiny_random_model() -> None:
    import torch
    from transformers import Qwen2AudioConfig, Qwen2AudioForConditionalGeneration

    torch.manual_seed(0)
    vocab = [f"w{i}" for i in range(64)]
    config = Qwen2AudioConfig(
        audio_config={"num_mel_bins": 128, "encoder_layers": 1, "encoder_attention_heads": 2, "encoder_ffn_dim": 32,
                      "d_model": 16, "max_source_positions": 1500},
        text_config={"model_type": "qwen2", "vocab_size": 64, "hidden_size": 32, "intermediate_size": 64,
                     "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1,
                     "max_position_embeddings": 2048},
        audio_token_index=63)
    model = Qwen2AudioForConditionalGeneration(config)
    cap = Qwen2AudioCaptioner(model, _TinyProcessor(63), max_new_tokens=5,
                              decode=lambda ids: " ".join(vocab[i] for i in ids[0].tolist()))
    audio = np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1
    text = cap.caption(audio)
    assert len(text.split()) == 5 and all(w in vocab for w in text.split())
    assert cap.caption(audio) == text  # greedy: deterministic


def _tiny_qwen2_audio_folder(folder: Path) -> Path:
    """A real Qwen2AudioProcessor (Whisper features + a byte-level BPE tokenizer with the Qwen2-Audio special
    tokens, built offline) and a tiny random Qwen2AudioForConditionalGeneration, saved as a local model folder."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import (Qwen2AudioConfig, Qwen2AudioForConditionalGeneration, Qwen2AudioProcessor,
                              Qwen2TokenizerFast, WhisperFeatureExtractor)

    bpe = Tokenizer(models.BPE(vocab={c: i for i, c in enumerate(sorted(pre_tokenizers.ByteLevel.alphabet()))}, merges=[]))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    tok = Qwen2TokenizerFast(tokenizer_object=bpe, unk_token=None, bos_token=None, eos_token="<|endoftext|>",
                             pad_token="<|endoftext|>")
    tok.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>", "<|AUDIO|>", "<|audio_bos|>",
                                                          "<|audio_eos|>"]})
    processor = Qwen2AudioProcessor(feature_extractor=WhisperFeatureExtractor(feature_size=128), tokenizer=tok)
    config = Qwen2AudioConfig(
        audio_config={"num_mel_bins": 128, "encoder_layers": 1, "encoder_attention_heads": 2, "encoder_ffn_dim": 32,
                      "d_model": 16, "max_source_positions": 1500},
        text_config={"model_type": "qwen2", "vocab_size": len(tok), "hidden_size": 32, "intermediate_size": 64,
                     "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1,
                     "max_position_embeddings": 2048},
        audio_token_index=tok.convert_tokens_to_ids("<|AUDIO|>"))
    torch.manual_seed(0)
    Qwen2AudioForConditionalGeneration(config).save_pretrained(str(folder))
    processor.save_pretrained(str(folder))
    return folder


def test_qwen2_audio_from_local_folder_and_captions_command(audio_dir: Path, tmp_path: Path) -> None:
    """The real processor and ``from_pretrained`` path (local folder, safetensors), then the pre-generation command
    ``sagasr-train captions --captioner qwen2-audio`` on LR copies (what inference sees)."""
    from sagasr_training.cli import main

    folder = _tiny_qwen2_audio_folder(tmp_path / "qwen")
    assert (folder / "model.safetensors").is_file()
    cap = Qwen2AudioCaptioner.from_pretrained(folder, max_new_tokens=6)
    audio = np.random.default_rng(1).standard_normal(16000).astype(np.float32) * 0.1
    text = cap.caption(audio)
    assert isinstance(text, str) and cap.caption(audio) == text
    with pytest.raises(FileNotFoundError, match="never downloads"):
        Qwen2AudioCaptioner.from_pretrained(tmp_path / "missing")
    cache = tmp_path / "qwen.jsonl"
    argv = ["captions", str(audio_dir), "--cache", str(cache), "--captioner", "qwen2-audio", "--model-path",
            str(folder), "--max-seconds", "1", "--lowpass-hz", "4000"]
    assert main(argv) == 0
    assert sorted(read_cache(cache)) == ["guitar/strum_c.wav", "guitar/strum_d.wav", "piano/piano_a.wav",
                                         "piano/piano_b.flac", "silence/quiet.wav"]
    assert main(argv) == 0 and len(cache.read_text().splitlines()) == 5  # cached: nothing captioned twice


def test_captions_command_needs_its_source(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from sagasr_training.cli import main

    assert main(["captions", str(tmp_path), "--captioner", "qwen2-audio"]) == 2
    assert "--model-path" in capsys.readouterr().err
    assert main(["captions", str(tmp_path), "--captioner", "http"]) == 2
    assert "--url" in capsys.readouterr().err


def test_caption_variants_of_the_corpus_captions() -> None:
    band = "Harpsichord, fretless bass and drums, 135 BPM, game music"
    assert caption_variants(band) == [band, "Harpsichord, fretless bass and drums", "harpsichord",
                                      "Harpsichord, fretless bass and drums, game music"]
    assert caption_variants("Viola, 120 BPM, palestrina piece") == [
        "Viola, 120 BPM, palestrina piece", "Viola", "solo viola", "Viola, palestrina piece"]
    kit = "Drum groove on the BJA_Pacific kit: hi hat closed, snare and tom, 139 BPM"
    assert caption_variants(kit) == [kit, "drums", "drum kit", "drum groove", "drums: hi hat closed, snare and tom"]
    hands = "Percussion pattern on the Gimme A Hand 1.0 kit: maraca and woodblock hi, 72 BPM"
    assert caption_variants(hands)[1:3] == ["percussion", "hand percussion"]


def test_caption_variants_keep_other_captions_whole() -> None:
    assert caption_variants("  piano sonata, classical ") == ["piano sonata, classical"]
    assert caption_variants("Flute, 90 BPM") == ["Flute, 90 BPM", "Flute", "solo flute"]  # no style: no 4th


def test_caption_store_keys_a_linked_file_by_its_own_name(tmp_path: Path) -> None:
    """A training set mixed from other corpora by symbolic links: each link gets the caption listed under its
    own path in the set, not the fallback caption of its target's file name."""
    source = tmp_path / "bank_b" / "clips"
    source.mkdir(parents=True)
    (source / "000001_00.flac").write_bytes(b"")
    mixed = tmp_path / "mixed"
    (mixed / "clips").mkdir(parents=True)
    link = mixed / "clips" / "b_000001_00.flac"
    try:
        link.symlink_to(source / "000001_00.flac")
    except OSError:
        pytest.skip("this file system has no symbolic links")
    cache = mixed / "captions.jsonl"
    cache.write_text('{"path": "clips/b_000001_00.flac", "caption": "Harpsichord, 120 BPM"}\n')
    store = CaptionStore(cache, mixed)
    assert store.key(link) == "clips/b_000001_00.flac"
    assert store.get(link) == "Harpsichord, 120 BPM"
    assert store.get(Path(os.path.relpath(link))) == "Harpsichord, 120 BPM"  # a relative path keys the same


def test_a_damaged_caption_line_is_an_error_unless_it_is_the_torn_last_one(tmp_path: Path) -> None:
    """A broken middle line used to be skipped: its clip trained on a file-name caption without a word."""
    cache = tmp_path / "captions.jsonl"
    good = [json.dumps({"path": f"c{i}.wav", "caption": f"caption {i}"}) for i in range(3)]
    cache.write_text("\n".join([good[0], good[1], '{"path": "c2.wav", "capt']) + "\n")  # an interrupted write
    assert read_cache(cache) == {"c0.wav": "caption 0", "c1.wav": "caption 1"}
    cache.write_text("\n".join([good[0], '{"path": "c1.wav", "capt', good[2]]) + "\n")
    with pytest.raises(ValueError, match=r"captions.jsonl:2: not a JSON line"):
        read_cache(cache)
    cache.write_bytes(b'{"path": "c0.wav", "caption": "\xff"}\n')
    with pytest.raises(ValueError, match="captions.jsonl: not UTF-8"):
        read_cache(cache)


def test_a_captions_file_that_names_no_training_clip_is_warned_of(audio_dir: Path, tmp_path: Path) -> None:
    from sagasr_training.data import DataConfig, WindowDataset

    cache = tmp_path / "captions.jsonl"
    cache.write_text(json.dumps({"path": "elsewhere/x.wav", "caption": "a bright piano"}) + "\n")
    config = DataConfig(root=str(audio_dir), captions=str(cache), val_fraction=0.0, window_samples=8192).validate()
    with pytest.warns(UserWarning, match="names none of the 5 training clips"):
        WindowDataset(config, "train")


def test_clips_much_shorter_than_the_window_are_warned_of(tmp_path: Path) -> None:
    from sagasr_training.data import DataConfig, WindowDataset

    from .conftest import write_audio

    rng = np.random.default_rng(0)
    for i in range(3):
        write_audio(tmp_path / f"c{i}.wav", rng.uniform(-0.3, 0.3, (1, 2205)).astype(np.float32), 44100)  # 50 ms
    config = DataConfig(root=str(tmp_path), val_fraction=0.0, window_samples=65536).validate()
    with pytest.warns(UserWarning, match="3 of 3 clips .* shorter than a quarter of the 1.49 s window"):
        WindowDataset(config, "train")


def test_captioning_resumed_after_a_torn_line_keeps_the_cache_readable(audio_dir: Path, tmp_path: Path) -> None:
    """A captioning run killed mid-line, then resumed: the next caption was appended to the torn line, the file
    gained a line that is not JSON, and the rerun after that (and training with --captions) refused the cache."""
    cache = tmp_path / "c.jsonl"
    cache.write_text('{"path": "piano/piano_a.wav", "caption": "kept"}\n{"path": "guitar/str', encoding="utf-8")
    assert generate_captions(audio_dir, cache, MetadataCaptioner(), max_seconds=0.5, progress=False) == 4
    assert generate_captions(audio_dir, cache, MetadataCaptioner(), max_seconds=0.5, progress=False) == 0
    table = read_cache(cache)
    assert len(table) == 5 and table["piano/piano_a.wav"] == "kept"
    assert all(json.loads(line) for line in cache.read_text(encoding="utf-8").splitlines())
    cache.write_text('{"path": "piano/piano_a.wav", "caption": "no newline"}', encoding="utf-8")  # hand-edited
    generate_captions(audio_dir, cache, MetadataCaptioner(), max_seconds=0.5, progress=False)
    assert read_cache(cache)["piano/piano_a.wav"] == "no newline" and len(read_cache(cache)) == 5


def test_damaged_files_are_named_before_any_caption_is_written(audio_dir: Path, tmp_path: Path) -> None:
    root = tmp_path / "data"
    root.mkdir()
    (root / "good.wav").write_bytes((audio_dir / "piano" / "piano_a.wav").read_bytes())
    (root / "bad.wav").write_bytes(b"RIFF not really a wave file")
    cache = tmp_path / "c.jsonl"
    with pytest.raises(ValueError, match=r"1 of 2 audio files") as info:
        generate_captions(root, cache, MetadataCaptioner(), progress=False)
    assert "bad.wav" in str(info.value)
    assert not cache.exists() or read_cache(cache) == {}
