"""The model bundle: a folder (or a .zip / .tar archive of one) holding ``manifest.json`` and the graphs.

The graphs and their inputs and outputs (names, axes, dtypes) are declared in :mod:`sagasr_stream.graphs`.

The manifest lists the SHA-256 of every file; :func:`load_manifest` verifies them before anything is loaded.
"""
from __future__ import annotations

import contextlib
import functools
import json
import lzma
import math
import os
import tarfile
import tempfile
import typing
import zipfile
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any, Callable, Iterator

from .band_ceiling import is_margin_db
from .band_level import BandLevelFit
from .band_smoothing import is_iterations, is_width_octaves
from .errors import BundleError, BundleNotFoundError
from .files import atomic_path, atomic_write_text, path_inside, sha256_file
from .graphs import GRAPH_NAMES, GRAPHS, REQUIRED_GRAPHS, SLOPE_INPUT, TensorSpec
from .json_types import type_problem
from .replication import is_share

FORMAT_NAME = "sagasr-bundle"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
BACKENDS = ("onnx", "torchscript")
MAX_ARCHIVE_BYTES = 8 << 30  # extracted size limit of a bundle archive
MAX_ARCHIVE_MEMBERS = 1000
MAX_STEPS = 1000  # Euler steps: a flow model's quality is flat long before this (settings checks it too)
#: defaults whose values :meth:`Manifest.validate` checks with a message saying which values they take
CHECKED_DEFAULTS = ("band_level", "band_ceiling_db", "sbr_blend", "sbr_level_db", "band_smoothing_octaves",
                    "band_smoothing_iterations", "band_transients")
ARCHIVE_DAMAGE = (zipfile.BadZipFile, tarfile.TarError, zlib.error, lzma.LZMAError, EOFError, NotImplementedError)


def _version_hint(version: object) -> str:
    """What to do about a bundle of another format version than FORMAT_VERSION."""
    if isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION:
        return (f" (this runtime reads {FORMAT_VERSION}; the bundle was written by a newer sagasr_stream: "
                "upgrade sagasr_stream to load it)")
    return f" (this runtime reads {FORMAT_VERSION}; export the bundle again with this version's `sagasr export`)"


@dataclass(frozen=True)
class TextSpec:
    """Text conditioning: token width ``dim`` and length ``max_tokens`` of the DiT's ``text_tokens`` input,
    and the tokenizer of the ``text_encoder`` graph (both absent in a model trained without captions).

    ``tokenizer`` is ``{"kind": "wordpiece", "file": "vocab.txt", "lowercase": true}`` (pure Python, BERT
    family) or ``{"kind": "hf_tokenizers", "file": "tokenizer.json"}`` (needs the ``tokenizers`` package).
    """

    dim: int
    max_tokens: int
    tokenizer: dict[str, Any] | None = None
    encoder_name: str = ""


@dataclass(frozen=True)
class Defaults:
    """Default sampling settings shipped with a model."""

    steps: int = 25
    cfg_acoustic: float = 1.4
    cfg_text: float = 1.2
    target_rolloff_hz: float | str = 16000.0  # Hz, or "auto": per window, input roll-off + fraction x (Nyquist - it),
                                              # or "model" (needs rolloff_unknown_trained)
    auto_rolloff_fraction: float = 0.2
    rolloff_unknown_trained: bool = False     # trained with some target roll-offs hidden: "model" may be asked
    caption: str = ""
    overlap_fraction: float = 0.25            # default window overlap, a fraction of the window (at most 0.5)
    band_level: dict[str, float] | None = None  # a noise-excited decoder's level fit (band_level.BandLevelFit):
                                                # the default band_level is then "matched"
    band_ceiling_db: float | None = None        # the quiet-frame ceiling's margin (dB, band_ceiling); None: off
    sbr_blend: float | None = None              # share of band replication's pattern in the band; None: off
    sbr_level_db: float | None = None           # bound on the replica's level pull in the blend (dB); None: 0
    band_smoothing_octaves: float | None = None   # width of the restored band's log-magnitude smoothing; None: off
    band_smoothing_iterations: int | None = None  # its Griffin-Lim iterations; None: the runtime's default
    band_transients: float | None = None          # share of the input's transients in the band's shape; None: off

    def check_rate(self, sample_rate: int, where: str = "manifest") -> None:
        """A target roll-off in Hz must lie below the Nyquist frequency of the model's ``sample_rate`` (Hz)."""
        rolloff = self.target_rolloff_hz
        if not isinstance(rolloff, str) and rolloff > sample_rate / 2:
            raise BundleError(f"{where}: defaults.target_rolloff_hz {rolloff:g} Hz is above the model's Nyquist "
                              f"frequency ({sample_rate / 2:g} Hz)")

    def validate(self, where: str = "manifest") -> None:
        """Check every default's type and range; raises :class:`BundleError` naming the field."""
        check_field_types(Defaults, asdict(self), where, "defaults.", checked_later=CHECKED_DEFAULTS)
        if not 1 <= self.steps <= MAX_STEPS:
            raise BundleError(f"{where}: defaults.steps must be an integer in 1..{MAX_STEPS}, got {self.steps!r}")
        if not (math.isfinite(self.overlap_fraction) and 0 <= self.overlap_fraction <= 0.5):
            raise BundleError(f"{where}: defaults.overlap_fraction must be in [0, 0.5], got {self.overlap_fraction!r}")
        for name in ("cfg_acoustic", "cfg_text"):  # the runtime's range (settings._guidance_scale)
            scale = getattr(self, name)
            if not (math.isfinite(scale) and 0 <= scale <= 20):
                raise BundleError(f"{where}: defaults.{name} must be a number in [0, 20], got {scale!r}")
        rolloff = self.target_rolloff_hz
        if rolloff == "model" and not self.rolloff_unknown_trained:
            raise BundleError(f"{where}: defaults.target_rolloff_hz 'model' needs rolloff_unknown_trained (a model "
                              "trained with hidden target roll-offs; export --rolloff-unknown-trained)")
        if isinstance(rolloff, str) and rolloff not in ("auto", "model"):
            raise BundleError(f"{where}: defaults.target_rolloff_hz must be Hz, 'auto' or 'model', got {rolloff!r}")
        if not isinstance(rolloff, str) and not (math.isfinite(rolloff) and rolloff > 0):
            raise BundleError(f"{where}: defaults.target_rolloff_hz must be a frequency > 0 Hz, got {rolloff!r}")
        if not is_share(self.auto_rolloff_fraction):
            raise BundleError(f"{where}: defaults.auto_rolloff_fraction must be a share in [0, 1], "
                              f"got {self.auto_rolloff_fraction!r}")
        if self.band_level is not None:
            BandLevelFit.from_dict(self.band_level, f"{where}: defaults.band_level")
        for name in ("band_ceiling_db", "sbr_level_db"):
            level = getattr(self, name)
            if level is not None and not is_margin_db(level):
                raise BundleError(f"{where}: defaults.{name} must be a level in dB >= 0, got {level!r}")
        for name in ("sbr_blend", "band_transients"):
            share = getattr(self, name)
            if share is not None and not is_share(share):
                raise BundleError(f"{where}: defaults.{name} must be a share in [0, 1], got {share!r}")
        width, iterations = self.band_smoothing_octaves, self.band_smoothing_iterations
        if width is not None and not is_width_octaves(width):
            raise BundleError(f"{where}: defaults.band_smoothing_octaves must be a width in octaves in (0, 2], "
                              f"got {width!r}")
        if iterations is not None and not is_iterations(iterations):
            raise BundleError(f"{where}: defaults.band_smoothing_iterations must be an integer in [0, 100], "
                              f"got {iterations!r}")


@dataclass(frozen=True)
class Manifest:
    """Everything the runtime needs to know about a bundle. Sizes in samples and latent frames."""

    name: str
    sample_rate: int
    window_samples: int
    downsampling: int
    latent_channels: int
    graphs: dict[str, str]
    files: dict[str, str]
    text: TextSpec | None = None  # required; Optional only so the field order stays readable
    defaults: Defaults = field(default_factory=Defaults)
    lr_null_value: float = -5.0
    input_peak: float = 0.5
    backend: str = "onnx"
    slope_condition: bool = False  # the DiT takes ``slope_in`` (graphs.SLOPE_INPUT) after its other inputs
    description: str = ""
    provenance: dict[str, Any] = field(default_factory=dict)
    format: str = FORMAT_NAME
    format_version: int = FORMAT_VERSION

    @property
    def latent_frames(self) -> int:
        """Latent frames per window (window_samples / downsampling)."""
        return self.window_samples // self.downsampling

    def graph_inputs(self, graph: str) -> tuple[TensorSpec, ...]:
        """``graph``'s inputs in feeding order, with the optional ones this bundle's graph takes."""
        optional = (SLOPE_INPUT,) if graph == "dit" and self.slope_condition else ()
        return GRAPHS[graph].inputs_with(optional)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "manifest") -> "Manifest":
        """Build and validate a manifest from parsed JSON; raises :class:`BundleError` naming the field."""
        if not isinstance(data, dict):
            raise BundleError(f"{where}: expected a JSON object, got {type(data).__name__}")
        if data.get("format") != FORMAT_NAME:
            raise BundleError(f"{where}: not a sagasr bundle (format={data.get('format')!r})")
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise BundleError(f"{where}: format_version {version!r} is not supported{_version_hint(version)}")
        required = ("name", "sample_rate", "window_samples", "downsampling", "latent_channels", "graphs", "files")
        missing = [k for k in required if k not in data]
        if missing:
            raise BundleError(f"{where}: missing field(s) {', '.join(missing)}")
        kwargs = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        text = data.get("text")
        if text is not None and not isinstance(text, dict):
            raise BundleError(f"{where}: 'text' must be an object")
        defaults = data.get("defaults", {})
        if not isinstance(defaults, dict):
            raise BundleError(f"{where}: 'defaults' must be an object, got {type(defaults).__name__}")
        check_field_types(cls, {k: v for k, v in kwargs.items() if k not in ("text", "defaults")}, where)
        for key in ("graphs", "files"):
            bad = [k for k, v in kwargs[key].items() if not isinstance(v, str)]
            if bad:
                raise BundleError(f"{where}: {key}.{bad[0]} must be a string, got {kwargs[key][bad[0]]!r}")
        if text:
            check_field_types(TextSpec, text, where, "text.", required=("dim", "max_tokens"))
            tokenizer_file = (text.get("tokenizer") or {}).get("file")
            if text.get("tokenizer") and not isinstance(tokenizer_file, str):
                raise BundleError(f"{where}: text.tokenizer.file must be a file name, got {tokenizer_file!r}")
        check_field_types(Defaults, defaults, where, "defaults.", checked_later=CHECKED_DEFAULTS)
        kwargs["text"] = TextSpec(**text) if text else None
        kwargs["defaults"] = Defaults(**defaults)
        manifest = cls(**kwargs)
        manifest.validate(where)
        return manifest

    def validate(self, where: str = "manifest") -> None:
        """Check sizes and graph names; raises :class:`BundleError`."""
        for key in ("sample_rate", "window_samples", "downsampling", "latent_channels"):
            value = getattr(self, key)
            if not isinstance(value, int) or value <= 0:
                raise BundleError(f"{where}: {key} must be a positive integer, got {value!r}")
        if self.window_samples % self.downsampling:
            raise BundleError(
                f"{where}: window_samples {self.window_samples} is not a multiple of downsampling {self.downsampling}"
            )
        for graph in REQUIRED_GRAPHS:
            if graph not in self.graphs:
                raise BundleError(f"{where}: graph {graph!r} is missing from 'graphs'")
        unknown = set(self.graphs) - set(GRAPH_NAMES)
        if unknown:
            raise BundleError(f"{where}: unknown graph(s) {sorted(unknown)}")
        for key in ("input_peak", "lr_null_value"):
            value = getattr(self, key)
            if not math.isfinite(value) or (key == "input_peak" and value <= 0):
                kind = "a level > 0" if key == "input_peak" else "a finite number"
                raise BundleError(f"{where}: {key} must be {kind}, got {value!r}")
        if self.text is None:
            raise BundleError(f"{where}: missing field 'text' (the DiT's text token width and length)")
        for key in ("dim", "max_tokens"):
            if getattr(self.text, key) < 1:
                raise BundleError(f"{where}: text.{key} must be a positive integer, got {getattr(self.text, key)!r}")
        if self.defaults.caption and "text_encoder" not in self.graphs:
            raise BundleError(f"{where}: defaults.caption {self.defaults.caption!r} needs the 'text_encoder' graph, "
                              "which this bundle does not hold")
        if ("text_encoder" in self.graphs) != bool(self.text.tokenizer):
            raise BundleError(f"{where}: the 'text_encoder' graph and 'text.tokenizer' must be given together")
        if self.backend not in BACKENDS:
            raise BundleError(f"{where}: backend must be one of {BACKENDS}, got {self.backend!r}")
        for graph, filename in self.graphs.items():
            if filename not in self.files:
                raise BundleError(f"{where}: graph {graph!r} file {filename!r} has no SHA-256 in 'files'")
        tokenizer_file = (self.text.tokenizer or {}).get("file")
        if self.text.tokenizer and tokenizer_file not in self.files:
            raise BundleError(f"{where}: tokenizer file {tokenizer_file!r} has no SHA-256 in 'files'")
        for name in self.files:
            if os.path.isabs(name) or ".." in Path(name).parts:
                raise BundleError(f"{where}: file name {name!r} leads outside the bundle folder")
        self.defaults.validate(where)
        self.defaults.check_rate(self.sample_rate, where)


def check_field_types(cls: type, data: dict[str, Any], where: str, prefix: str = "",
                      required: tuple[str, ...] = (), checked_later: tuple[str, ...] = ()) -> None:
    """Raise :class:`BundleError` naming the field when ``data`` (JSON for the dataclass ``cls``) has a field
    ``cls`` does not know, lacks one of ``required``, or holds a value of another type than the field's (but
    for the fields ``checked_later``, whose own check says which values they take)."""
    hints = typing.get_type_hints(cls)
    unknown = sorted(set(data) - set(hints))
    if unknown:
        raise BundleError(f"{where}: unknown field(s) {', '.join(prefix + k for k in unknown)} "
                          "(written by a newer exporter?)")
    missing = [k for k in required if k not in data]
    if missing:
        raise BundleError(f"{where}: missing field(s) {', '.join(prefix + k for k in missing)}")
    for key, value in data.items():
        problem = None if key in checked_later else type_problem(value, hints[key])
        if problem:
            raise BundleError(f"{where}: {prefix}{key} must be {problem}, got {value!r}")


def _safe_member_path(root: Path, name: str) -> Path:
    target = path_inside(root, name)
    if target is None:
        raise BundleError(f"archive member {name!r} would be written outside the bundle folder")
    return target


def _archive_members(archive: Path, stack: contextlib.ExitStack) -> Iterator[tuple[str, bool, Callable[[], IO[bytes]]]]:
    """(name, is_dir, open) for each member of a .zip or .tar archive; links and devices are refused."""
    if zipfile.is_zipfile(archive):
        zf = stack.enter_context(zipfile.ZipFile(archive))
        for info in zf.infolist():
            yield info.filename, info.is_dir(), functools.partial(zf.open, info)
    elif tarfile.is_tarfile(archive):
        tf = stack.enter_context(tarfile.open(archive))
        for member in tf.getmembers():
            if not (member.isdir() or member.isfile()):
                raise BundleError(f"archive member {member.name!r} is a link or device; refusing to extract")
            yield member.name, member.isdir(), lambda member=member: tf.extractfile(member)  # type: ignore[misc]
    else:
        raise BundleError(f"{archive}: not a bundle folder, .zip or .tar archive (or the archive is truncated)")


def extract_archive(archive: Path, destination: Path) -> Path:
    """Extract a .zip or .tar(.gz) bundle into ``destination`` without path traversal or links.

    Returns the folder that holds ``manifest.json`` (the destination itself or its single sub-folder).
    """
    destination.mkdir(parents=True, exist_ok=True)
    written, members = 0, 0
    try:
        with contextlib.ExitStack() as stack:
            for name, is_dir, open_member in _archive_members(archive, stack):
                members += 1
                if members > MAX_ARCHIVE_MEMBERS:
                    raise BundleError(f"{archive}: more than {MAX_ARCHIVE_MEMBERS} members; refusing to extract")
                target = _safe_member_path(destination, name)
                if is_dir:
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with open_member() as src, open(target, "wb") as dst:
                    for block in iter(lambda: src.read(1 << 20), b""):  # counted as written: sizes can lie
                        written += len(block)
                        if written > MAX_ARCHIVE_BYTES:
                            raise BundleError(
                                f"{archive}: extracts to more than {MAX_ARCHIVE_BYTES} bytes; refusing (a damaged or hostile archive?)"
                            )
                        dst.write(block)
    except ARCHIVE_DAMAGE as exc:  # truncated or modified compressed data, bad CRC, cut-off tar
        raise BundleError(f"{archive}: damaged archive, cannot extract it ({type(exc).__name__}: {exc})") from exc
    root = extract_root(destination)
    if not (root / MANIFEST).is_file():
        raise BundleError(f"{archive}: archive holds no {MANIFEST}")
    return root


@dataclass(frozen=True)
class Bundle:
    """A verified bundle on disk: its folder and manifest; ``extracted``: for a bundle given as an archive, (the
    archive, the temporary folder it was extracted to), so that errors name the archive (:func:`archive_named`)."""

    root: Path
    manifest: Manifest
    extracted: tuple[Path, Path] | None = None

    def path(self, graph: str) -> Path:
        """Path of a graph file by graph name (see :data:`GRAPH_NAMES`)."""
        return self.root / self.manifest.graphs[graph]

    def file(self, name: str) -> Path:
        return self.root / name


_extracted: dict[str, tempfile.TemporaryDirectory] = {}  # by the archive's SHA-256: a replaced file is re-read


def load_bundle(path: str | os.PathLike[str], verify: bool = True) -> Bundle:
    """Open a bundle folder or archive, validate the manifest and (by default) every file's SHA-256.

    Raises :class:`BundleError` naming the missing, truncated or tampered file.
    """
    path = Path(path)
    if not path.exists():
        raise BundleNotFoundError(f"model bundle not found: {path}")
    if not path.is_file():
        return _open_root(path, None, verify)
    key = sha256_file(path)
    if key in _extracted:  # extracted before in this process: its copy is reused while it is intact
        try:
            return _open_root(*_extraction(path, key), verify)
        except BundleError:  # the copy changed or went (a temp cleaner): the archive itself may be fine
            _extracted.pop(key).cleanup()
    return _open_root(*_extraction(path, key), verify)


def _extraction(archive: Path, key: str) -> tuple[Path, tuple[Path, Path]]:
    """(the bundle root inside, (``archive``, its folder)) of ``archive`` extracted to a temporary folder kept for
    this process under ``key`` (its SHA-256), extracted now unless it was before."""
    if key not in _extracted:
        tmp = tempfile.TemporaryDirectory(prefix="sagasr-bundle-")
        _extracted[key] = tmp
        try:
            extract_archive(archive, Path(tmp.name))
        except BaseException:
            del _extracted[key]
            tmp.cleanup()
            raise
    folder = Path(_extracted[key].name)
    return extract_root(folder), (archive, folder)  # the root: where extract_archive found the manifest


def _open_root(root: Path, extracted: tuple[Path, Path] | None, verify: bool) -> Bundle:
    """The :class:`Bundle` in folder ``root`` (``extracted``: see :attr:`Bundle.extracted`), its manifest
    validated and (``verify``) every file's SHA-256 checked."""
    with archive_named(extracted):
        manifest_path = root / MANIFEST
        if not manifest_path.is_file():
            raise BundleError(f"{root}: no {MANIFEST} (is this a sagasr model bundle?)")
        try:
            data = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise BundleError(f"{manifest_path}: invalid JSON ({exc})") from exc
        manifest = Manifest.from_dict(data, where=str(manifest_path))
        if verify:
            verify_files(root, manifest)
    return Bundle(root, manifest, extracted)


@contextlib.contextmanager
def archive_named(extracted: tuple[Path, Path] | None) -> Iterator[None]:
    """A :class:`BundleError` raised inside names the archive the user gave, not the temporary folder it was
    extracted to (``extracted``: (archive, folder), :attr:`Bundle.extracted`; None: a folder, named as it is)."""
    try:
        yield
    except BundleError as exc:
        if extracted is None or str(extracted[1]) not in str(exc):
            raise
        raise type(exc)(str(exc).replace(str(extracted[1]), str(extracted[0]))) from exc


def extract_root(folder: Path) -> Path:
    if (folder / MANIFEST).is_file():
        return folder
    subdirs = [p for p in folder.iterdir() if p.is_dir() and (p / MANIFEST).is_file()]
    return subdirs[0] if len(subdirs) == 1 else folder


def verify_files(root: Path, manifest: Manifest) -> None:
    """Check that every file listed in the manifest exists and has its recorded SHA-256, and that the
    bundle holds no file the manifest does not list (an unlisted file, e.g. ONNX external data, would be
    loaded unverified). A file verified before and unchanged since (same size, mtime, ctime and inode) is not
    hashed again (see :mod:`.cache`)."""
    from .cache import file_stamp, known_verified_hashes, remember_verified_hashes

    files = {name: _safe_member_path(root, name) for name in manifest.files}
    listed = set(files.values())
    unlisted = sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and p.resolve() != (root / MANIFEST).resolve() and p.resolve() not in listed
    )
    if unlisted:
        raise BundleError(f"bundle {root} holds file(s) its manifest does not list (no SHA-256): {', '.join(unlisted)}")
    known = known_verified_hashes([f for f in files.values() if f.is_file()])
    hashed: dict[Path, tuple[list[int], str]] = {}
    for name, expected in manifest.files.items():
        file = files[name]
        if not file.is_file():
            raise BundleError(f"bundle file missing: {file}")
        actual = known.get(file)
        if actual != expected:
            stamp = file_stamp(file)[1]  # before reading: a change while it is read shows next time
            actual = sha256_file(file)
            hashed[file] = (stamp, actual)
        if actual != expected:
            raise BundleError(
                f"bundle file {file} failed its SHA-256 check (expected {expected[:12]}..., got {actual[:12]}...): "
                "it is truncated, corrupted or was modified"
            )
    remember_verified_hashes(hashed)  # every file matched: a mismatch raised above


def write_manifest(root: str | os.PathLike[str], manifest_fields: dict[str, Any]) -> Manifest:
    """Hash every file in ``root`` (except the manifest), validate and write ``manifest.json`` atomically.

    ``manifest_fields`` holds every :class:`Manifest` field except ``files``; used by the exporter and by
    the test-model builder.
    """
    root = Path(root)
    files = {
        str(p.relative_to(root).as_posix()): sha256_file(p)
        for p in sorted(root.rglob("*"))
        if p.is_file() and p != root / MANIFEST  # every file: verification refuses unlisted ones
    }
    data = dict(manifest_fields, files=files, format=FORMAT_NAME, format_version=FORMAT_VERSION)
    data = json.loads(json.dumps(data, default=_jsonable))
    manifest = Manifest.from_dict(data, where=str(root / MANIFEST))
    atomic_write_text(root / MANIFEST, manifest.to_json() + "\n")
    return manifest


def _jsonable(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    raise TypeError(f"cannot write {type(value).__name__} to a manifest")


def archive_bundle(root: str | os.PathLike[str], archive: str | os.PathLike[str]) -> Path:
    """Write the bundle folder ``root`` into a single .zip file (flat, manifest at the top)."""
    root, archive = Path(root), Path(archive)
    with atomic_path(archive) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(root.rglob("*")):
            if p.is_file():
                zf.write(p, p.relative_to(root).as_posix())
    return archive
