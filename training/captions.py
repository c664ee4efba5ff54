"""Captions for training (from HR audio) and inference (from LR audio).

- :class:`CaptionStore`: the JSON-lines cache ``{"path": <relative POSIX path>, "caption": str}``; files not in
  it fall back to :func:`metadata_caption`.
- Captioners (``caption(audio (n,) float32 at rate sr, path) -> str``): :class:`Qwen2AudioCaptioner`
  (transformers, local folder only), :class:`HTTPCaptioner` (OpenAI-style chat completions over urllib),
  :class:`MetadataCaptioner` (sidecar JSON / file and folder names; needs no model).
- :func:`generate_captions`: caption every audio file of a folder into the cache, resumable (appends).
"""
from __future__ import annotations

import base64
import io
import json
import os
import re
import urllib.request
import wave
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np

DEFAULT_PROMPT = "Describe this audio in one sentence: instruments, genre, mood, recording quality."
SIDE_KEYS = ("caption", "description", "title", "instrument", "instruments", "genre", "tags", "mood")


def _words(name: str) -> str:
    s = re.sub(r"([a-z])([A-Z])", r"\1 \2", name)
    s = re.sub(r"[_\-.+]+", " ", s)
    s = re.sub(r"\b\d+\b", " ", s)
    return re.sub(r"\s+", " ", s).strip().lower()


def metadata_caption(path: str | os.PathLike[str]) -> str:
    """Caption without a model: a sidecar ``<file>.json``/``<stem>.json`` (keys such as caption, description,
    instrument, genre, tags), else the file and folder names ("piano_sonata_01.wav" in "classical" ->
    "piano sonata, classical")."""
    p = Path(path)
    for side in (p.with_name(p.name + ".json"), p.with_suffix(".json")):
        if side.is_file() and side != p:
            try:
                data = json.loads(side.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(data, dict):
                if isinstance(data.get("caption"), str) and data["caption"].strip():
                    return data["caption"].strip()
                parts = []
                for k in SIDE_KEYS[1:]:
                    v = data.get(k)
                    if isinstance(v, list):
                        v = ", ".join(str(x) for x in v)
                    if v:
                        parts.append(str(v))
                if parts:
                    return ", ".join(parts)
    stem, folder = _words(p.stem), _words(p.parent.name)
    parts = [x for x in (stem, folder) if x]
    return ", ".join(parts) if parts else "audio"


KIT_FAMILIES = {"drum": ("drums", "drum kit", "drum groove"), "percussion": ("percussion", "hand percussion")}


def _instruments(listing: str) -> list[str]:
    """"Harpsichord, fretless bass and drums" -> ["harpsichord", "fretless bass", "drums"]."""
    parts = re.split(r",\s*|\s+and\s+", listing)
    return [p.strip().lower() for p in parts if p.strip()]


def caption_variants(caption: str) -> list[str]:
    """The caption and the shorter ones a user might type for the same audio, for training the text condition
    on more than one phrasing (``data.caption_variants``). The caption itself comes first; duplicates are dropped.

    Understands the corpus builder's captions ("Harpsichord, fretless bass and drums, 135 BPM, game music";
    "Drum groove on the X kit: snare, kick and ride, 120 BPM"): the instrument list, the first instrument, "solo
    <instrument>" for one instrument, the instruments with the style, the kit's family ("drums", "drum kit", ...).
    Other captions come back alone.
    """
    caption = caption.strip()
    variants = [caption]
    kit = re.match(r"(drum|percussion)\w*\s+\w+\s+on the .+? kit:\s*(.+)", caption, re.IGNORECASE)
    if kit:
        family = kit.group(1).lower()
        pieces = [p for p in re.split(r",\s*", kit.group(2)) if "bpm" not in p.lower()]
        variants += [*KIT_FAMILIES[family], f"{KIT_FAMILIES[family][0]}: {', '.join(pieces)}"]
    else:
        parts = [p.strip() for p in caption.split(",")]
        tempo = next((i for i, p in enumerate(parts) if re.fullmatch(r"\d+(\.\d+)? bpm", p.lower())), None)
        if tempo:  # None (no tempo part) or 0 (no instruments before it): nothing to shorten
            listing, style = ", ".join(parts[:tempo]), ", ".join(parts[tempo + 1:])
            names = _instruments(listing)
            variants += [listing, names[0]]
            if len(names) == 1:
                variants.append(f"solo {names[0]}")
            if style:
                variants.append(f"{listing}, {style}")
    unique: dict[str, str] = {}
    for v in variants:
        unique.setdefault(v.lower(), v)
    return [v for v in unique.values() if v]


class CaptionStore:
    """Read-only view of a caption cache; ``get(path)`` falls back to :func:`metadata_caption`."""

    def __init__(self, cache: str | os.PathLike[str] | None, root: str | os.PathLike[str] | None = None) -> None:
        #: the root as given (absolute) and with its links resolved
        self.roots = (Path(os.path.abspath(root)), Path(root).resolve()) if root else ()
        self.table = read_cache(cache) if cache else {}

    def key(self, path: Path) -> str:
        """The cache key of ``path``: its path relative to the root as the folder lists it, so a symbolic link
        in the root (a training set mixed from several corpora) keys by its own name, not its target's; else
        the absolute path. Links are resolved only when the path as given is not under the root."""
        path = Path(os.path.abspath(path))
        if self.roots:
            key = self._under_root(path) or self._under_root(path.resolve())
            if key:
                return key
        return path.as_posix()

    def _under_root(self, path: Path) -> str | None:
        """``path`` relative to the root as given or as resolved, or None when it lies under neither."""
        for root in self.roots:
            if path.is_relative_to(root):
                return path.relative_to(root).as_posix()
        return None

    def get(self, path: Path) -> str:
        return self.table.get(self.key(path)) or metadata_caption(path)


def write_listing(out: str | os.PathLike[str], clips: list[tuple[str, str]]) -> None:
    """``out/train.txt`` and ``out/captions.jsonl`` of (path relative to ``out``, caption) pairs, in order: a
    training set's file list and caption cache (``--file-list``, ``--captions``)."""
    from sagasr_stream.files import atomic_write_text

    out = Path(out)
    atomic_write_text(out / "train.txt", "".join(f"{path}\n" for path, _ in clips))
    atomic_write_text(out / "captions.jsonl", "".join(json.dumps({"path": path, "caption": caption}) + "\n"
                                                      for path, caption in clips))


def read_cache(cache: str | os.PathLike[str]) -> dict[str, str]:
    """JSON-lines cache -> {path: caption}; later lines win; a torn last line (interrupted write) is ignored, any
    other line that is not JSON is an error naming the file and line."""
    table: dict[str, str] = {}
    p = Path(cache)
    if not p.is_file():
        return table
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise ValueError(f"{cache}: not UTF-8 text ({exc})") from None
    last = max((n for n, line in enumerate(lines) if line.strip()), default=-1)
    for n, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            if n == last:
                continue
            raise ValueError(f"{cache}:{n + 1}: not a JSON line (only a torn last line is skipped)") from None
        if not isinstance(row, dict) or not isinstance(row.get("path"), str) or not isinstance(row.get("caption"), str):
            raise ValueError(f"{cache}:{n + 1}: expected {{\"path\": str, \"caption\": str}}")
        table[row["path"]] = row["caption"]
    return table


class Captioner(Protocol):
    sample_rate: int

    def caption(self, audio: np.ndarray, path: Path | None = None) -> str: ...


class MetadataCaptioner:
    """No model: :func:`metadata_caption` of the path."""

    sample_rate = 16000

    def caption(self, audio: np.ndarray, path: Path | None = None) -> str:
        return metadata_caption(path) if path is not None else "audio"


def wav_bytes(audio: np.ndarray, sample_rate: int) -> bytes:
    """(n,) float -> 16-bit PCM mono WAV bytes."""
    pcm = (np.clip(np.asarray(audio, dtype=np.float64), -1, 1) * 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


class HTTPCaptioner:
    """OpenAI-style ``/v1/chat/completions`` endpoint serving an audio LLM (e.g. vLLM with Qwen2-Audio).

    Sends ``{"model", "messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio":
    {"data": <base64 WAV>, "format": "wav"}}, {"type": "text", "text": prompt}]}], "max_tokens"}`` and reads
    ``choices[0].message.content``. The API key, if any, comes from the environment variable ``api_key_env``."""

    def __init__(self, url: str, model: str = "Qwen/Qwen2-Audio-7B-Instruct", prompt: str = DEFAULT_PROMPT,
                 max_tokens: int = 64, timeout: float = 120.0, api_key_env: str | None = None,
                 sample_rate: int = 16000) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"caption endpoint must be an http(s) URL, got {url!r}")
        self.url, self.model, self.prompt, self.max_tokens, self.timeout = url, model, prompt, max_tokens, timeout
        self.api_key_env, self.sample_rate = api_key_env, sample_rate

    def caption(self, audio: np.ndarray, path: Path | None = None) -> str:
        body = {"model": self.model, "max_tokens": self.max_tokens, "messages": [{"role": "user", "content": [
            {"type": "input_audio", "input_audio": {"data": base64.b64encode(wav_bytes(audio, self.sample_rate)).decode(),
                                                     "format": "wav"}},
            {"type": "text", "text": self.prompt}]}]}
        headers = {"Content-Type": "application/json"}
        if self.api_key_env and os.environ.get(self.api_key_env):
            headers["Authorization"] = f"Bearer {os.environ[self.api_key_env]}"
        req = urllib.request.Request(self.url, data=json.dumps(body).encode(), headers=headers, method="POST")
        with urllib.request.urlopen(req, timeout=self.timeout) as resp:
            data = json.loads(resp.read().decode("utf-8"))
        try:
            return str(data["choices"][0]["message"]["content"]).strip()
        except (KeyError, IndexError, TypeError) as exc:
            raise ValueError(f"caption endpoint {self.url}: unexpected response {str(data)[:200]}") from exc


class Qwen2AudioCaptioner:
    """Qwen2-Audio (``Qwen2AudioForConditionalGeneration``) from a local folder, greedy decoding.

    ``processor(text=..., audio=[(n,) float32 at 16 kHz], sampling_rate=16000, return_tensors="pt")`` must return
    ``input_ids``, ``attention_mask``, ``input_features``, ``feature_attention_mask``; ``decode(ids) -> str``."""

    sample_rate = 16000

    def __init__(self, model: Any, processor: Any, prompt: str = DEFAULT_PROMPT, max_new_tokens: int = 64,
                 decode: Callable[[Any], str] | None = None) -> None:
        self.model, self.processor, self.prompt, self.max_new_tokens = model.eval(), processor, prompt, max_new_tokens
        self.decode = decode or (lambda ids: processor.batch_decode(ids, skip_special_tokens=True)[0])

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike[str], device: str = "cpu", **kw: Any) -> "Qwen2AudioCaptioner":
        """Local folder only (``local_files_only=True``): never downloads; safetensors weights only (no pickles)."""
        import torch
        from transformers import AutoProcessor, Qwen2AudioForConditionalGeneration

        if not Path(path).is_dir():
            raise FileNotFoundError(f"Qwen2-Audio folder {path} does not exist (captioning never downloads)")
        processor = AutoProcessor.from_pretrained(str(path), local_files_only=True)
        dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
        model = Qwen2AudioForConditionalGeneration.from_pretrained(str(path), local_files_only=True, dtype=dtype,
                                                                   use_safetensors=True).to(device)
        return cls(model, processor, **kw)

    def prompt_text(self) -> str:
        return ("<|im_start|>user\nAudio 1: <|audio_bos|><|AUDIO|><|audio_eos|>\n"
                f"{self.prompt}<|im_end|>\n<|im_start|>assistant\n")

    def caption(self, audio: np.ndarray, path: Path | None = None) -> str:
        import torch

        inputs = self.processor(text=self.prompt_text(), audio=[np.asarray(audio, dtype=np.float32)],
                                sampling_rate=self.sample_rate, return_tensors="pt")
        device = next(self.model.parameters()).device
        inputs = {k: v.to(device) for k, v in dict(inputs).items() if hasattr(v, "to")}
        with torch.no_grad():
            out = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False)
        return self.decode(out[:, inputs["input_ids"].shape[1]:]).strip()


def make_captioner(kind: str, model_path: str | None = None, url: str | None = None, **kw: Any) -> Captioner:
    """``kind``: "qwen2-audio" (needs ``model_path``), "http" (needs ``url``) or "metadata"."""
    if kind == "qwen2-audio":
        if not model_path:
            raise ValueError("captioner qwen2-audio needs --model-path (a local Qwen2-Audio folder)")
        return Qwen2AudioCaptioner.from_pretrained(model_path, **kw)
    if kind == "http":
        if not url:
            raise ValueError("captioner http needs --url")
        return HTTPCaptioner(url, **kw)
    if kind == "metadata":
        return MetadataCaptioner()
    raise ValueError(f"unknown captioner {kind!r} (qwen2-audio, http, metadata)")


def _end_last_line(cache: Path) -> None:
    """Before appending: a last line without its newline is ended when it is JSON (a hand-edited file) and cut
    when it is not (torn by an interrupted run, which :func:`read_cache` skips), so no caption is glued to it."""
    if not cache.is_file() or cache.stat().st_size == 0:
        return
    data = cache.read_bytes()
    if data.endswith(b"\n"):
        return
    start = data.rfind(b"\n") + 1
    try:
        json.loads(data[start:])
    except ValueError:
        with cache.open("r+b") as f:
            f.truncate(start)
        return
    with cache.open("ab") as f:
        f.write(b"\n")


def generate_captions(root: str | os.PathLike[str], cache: str | os.PathLike[str], captioner: Captioner,
                      max_seconds: float = 30.0, lowpass_hz: float | None = None, overwrite: bool = False,
                      progress: bool = True) -> int:
    """Caption every audio file under ``root`` into the JSON-lines ``cache`` (appending; files already cached
    are skipped unless ``overwrite``). ``lowpass_hz``: caption a band-limited copy (what the model will see at
    inference) instead of the file itself. Returns the number of new captions."""
    from sagasr_stream import degradation
    from sagasr_stream.audio_io import open_input

    from .audio_files import checked_clips, scan_audio

    root, cache = Path(root), Path(cache)
    done = {} if overwrite else read_cache(cache)
    files = [p for p in scan_audio(root) if p.relative_to(root).as_posix() not in done]
    checked_clips(files, root)  # one error naming each damaged file, before any caption is written
    cache.parent.mkdir(parents=True, exist_ok=True)
    if overwrite and cache.exists():
        cache.unlink()
    _end_last_line(cache)
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(files), desc="captions", unit="file")
    n = 0
    with cache.open("a", encoding="utf-8") as out:
        for p in files:
            with open_input(p, captioner.sample_rate) as (f, _channels, _rate):  # as the runtime reads it
                audio = np.asarray(f.read(int(max_seconds * captioner.sample_rate)),
                                   dtype=np.float32).mean(axis=0)
            if lowpass_hz:
                audio = degradation.band_limit(audio, captioner.sample_rate, degradation.LowPassSpec("butter", 8, min(lowpass_hz, captioner.sample_rate * 0.45)))
            text = captioner.caption(audio, p)
            out.write(json.dumps({"path": p.relative_to(root).as_posix(), "caption": text}) + "\n")
            out.flush()
            n += 1
            if bar:
                bar.update()
    if bar:
        bar.close()
    return n
