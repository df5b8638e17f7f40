"""Pack a saved model into bytes on the driver, unpack it once per executor.

Pure Python (no TensorFlow, no Spark). The archive is an uncompressed tar built in a fixed order
with zeroed timestamps, so the same model always gives the same bytes and the same fingerprint
(sha256). Executors unpack into `<root>/<fingerprint>/<name>` atomically (extract to a temp dir,
then rename), so concurrent Python workers on one executor share one copy and never see a half
written model.
"""
from __future__ import annotations

import hashlib
import io
import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .errors import ModelFormatError, ModelNotFoundError

SAVED_MODEL = "savedmodel"
KERAS = "keras"


@dataclass(frozen=True)
class ModelArchive:
    """A packed model: `data` is the tar bytes, `name` the model's file or directory name."""

    data: bytes
    fingerprint: str
    kind: str
    name: str


def detect_kind(path: str) -> str:
    """Return SAVED_MODEL or KERAS (`.keras`, `.h5` files) for a local model path, or raise a ModelError."""
    p = Path(path)
    if not p.exists():
        raise ModelNotFoundError(f"model path {path!r} does not exist; pass a SavedModel directory or a .keras file")
    if p.is_dir():
        if (p / "saved_model.pb").is_file():
            return SAVED_MODEL
        found = sorted(x.name for x in p.iterdir())[:8]
        raise ModelFormatError(
            f"model directory {path!r} is not a TensorFlow SavedModel (no saved_model.pb; it holds {found}); "
            f"save with model.export(path) or tf.saved_model.save(), or pass a .keras file")
    if p.suffix in (".keras", ".h5", ".hdf5"):
        return KERAS
    raise ModelFormatError(
        f"model file {path!r} is not a .keras or .h5 file; save it with model.save('model.keras') "
        f"or export a SavedModel directory with model.export(path)")


def _files(root: Path):
    if root.is_file():
        yield root.name, root
        return
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for filename in sorted(filenames):
            full = Path(dirpath) / filename
            yield str(Path(root.name) / full.relative_to(root)), full


def pack(path: str) -> ModelArchive:
    """Pack the model at a local path (directory or file) into a deterministic tar archive."""
    kind = detect_kind(path)
    root = Path(path)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for arcname, full in _files(root):
            info = tarfile.TarInfo(arcname)
            info.size = full.stat().st_size
            info.mode = 0o644
            with open(full, "rb") as handle:
                tar.addfile(info, handle)
    data = buffer.getvalue()
    return ModelArchive(data=data, fingerprint=hashlib.sha256(data).hexdigest(), kind=kind, name=root.name)


def _checked_members(tar: tarfile.TarFile) -> list:
    """The archive's entries, refusing any that would land outside the target directory."""
    members = tar.getmembers()
    for member in members:
        parts = Path(member.name).parts
        if not (member.isfile() or member.isdir()):
            raise ModelFormatError(f"model archive entry {member.name!r} is a link or special file; a packed model "
                                   f"holds only files (pack it again with sparkdl)")
        if member.name.startswith(("/", "\\")) or os.path.isabs(member.name) or ".." in parts:
            raise ModelFormatError(f"model archive entry {member.name!r} points outside the model directory; "
                                   f"pack the model again with sparkdl")
    return members


def _extract(tar: tarfile.TarFile, target: str) -> None:
    """Extract the checked entries; with tarfile's 'data' filter too on Pythons that have it (3.10.12+,
    3.11.4+, 3.12+), without it on older patch levels such as Debian 12's 3.11.2."""
    members = _checked_members(tar)
    if hasattr(tarfile, "data_filter"):
        tar.extractall(target, members=members, filter="data")
    else:
        tar.extractall(target, members=members)


def unpack(data: bytes, fingerprint: str, name: str, root: str) -> str:
    """Extract an archive under `root/fingerprint` once; return the local model path.

    Safe when several processes race: the loser of the rename removes its own copy.
    """
    target = Path(root) / fingerprint
    model_path = target / name
    if model_path.exists():
        return str(model_path)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{fingerprint[:12]}-", dir=target.parent)
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r") as tar:
            _extract(tar, staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    try:
        os.rename(staging, target)
    except OSError:
        if not model_path.exists():
            raise
        shutil.rmtree(staging, ignore_errors=True)
    return str(model_path)


def unpacked_path(fingerprint: str, name: str, root: str):
    """The local path of an already unpacked model, or None."""
    path = Path(root) / fingerprint / name
    return str(path) if path.exists() else None
