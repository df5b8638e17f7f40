"""File access for a Spark Connect client: Python's own file systems, no JVM.

A Spark Connect session (Databricks serverless and standard access mode, `builder.remote()`)
has no JVM in this process, so `sparkdl.fs` hands its URIs to this backend instead of Spark's
Hadoop `FileSystem`. It goes through `pyarrow.fs`: plain paths, file:, dbfs:/ (Databricks'
/dbfs mount) and /Volumes/... paths are local files; s3:/s3a:, gs: and hdfs: (with libhdfs)
use pyarrow's clients with this machine's credentials. Same methods as `fs._HadoopFS`. Executors
use it too, to read a model too large to travel in a Connect plan (runtime/models.py).
"""
from __future__ import annotations

import os
import posixpath
from urllib.parse import urlparse

import pyarrow.fs as pafs

from .errors import StorageError

S3_ALIASES = ("s3a", "s3n")


def open_uri(uri: str):
    """(pyarrow FileSystem, path in it) for `uri`: local paths, file:, dbfs:/ (the /dbfs mount),
    s3a:/s3n: as s3:, anything else as pyarrow opens it (its own error when it cannot)."""
    uri = str(uri)
    parsed = urlparse(uri)
    scheme = parsed.scheme if len(parsed.scheme) > 1 else ""  # 'C:' is a drive, not a scheme
    if scheme == "":
        return pafs.LocalFileSystem(), os.path.abspath(os.path.expanduser(uri))
    if scheme == "file":
        return pafs.LocalFileSystem(), parsed.path
    if scheme == "dbfs":
        return pafs.LocalFileSystem(), "/dbfs/" + parsed.path.lstrip("/")
    if scheme in S3_ALIASES:
        uri = "s3" + uri[len(scheme):]
    return pafs.FileSystem.from_uri(uri)


def resolve(uri: str):
    """(pyarrow FileSystem, path in it) for `uri`; StorageError naming the fix when pyarrow cannot reach it."""
    try:
        return open_uri(uri)
    except Exception as error:  # pyarrow raises ArrowInvalid, OSError or ImportError by backend
        raise StorageError(f"on Spark Connect sparkdl reads {uri!r} from this Python process (no JVM here), and "
                           f"pyarrow cannot open it: {error}. Use a path this machine reaches (a local, /Volumes/... "
                           f"or /dbfs/... path, s3:, gs:, hdfs: with libhdfs)") from None


class ClientFS:
    """One file or directory through pyarrow (a Spark Connect client's driver, or an executor)."""

    def __init__(self, uri: str):
        self.uri = str(uri)
        self.fs, self.path = resolve(self.uri)

    def _info(self, path=None) -> pafs.FileInfo:
        return self.fs.get_file_info(path or self.path)

    def exists(self) -> bool:
        return self._info().type != pafs.FileType.NotFound

    def stamp(self) -> tuple:
        info = self._info()
        if info.type == pafs.FileType.File:
            found = [info]
        else:
            found = [f for f in self.fs.get_file_info(pafs.FileSelector(self.path, recursive=True))
                     if f.type == pafs.FileType.File]
        return tuple(sorted((f.path, f.size, f.mtime_ns) for f in found))

    def copy_to_local(self, local_dir: str) -> str:
        target = os.path.join(local_dir, posixpath.basename(self.path.rstrip("/")))
        if self._info().type == pafs.FileType.Directory:
            os.makedirs(target, exist_ok=True)
        pafs.copy_files(self.path, target, source_filesystem=self.fs, destination_filesystem=pafs.LocalFileSystem())
        return target

    def copy_from_local(self, local_path: str) -> None:
        self.delete()
        self.fs.create_dir(posixpath.dirname(self.path.rstrip("/")), recursive=True)
        if os.path.isdir(local_path):
            self.fs.create_dir(self.path, recursive=True)
        pafs.copy_files(local_path, self.path, source_filesystem=pafs.LocalFileSystem(), destination_filesystem=self.fs)

    def delete(self) -> None:
        kind = self._info().type
        if kind == pafs.FileType.Directory:
            self.fs.delete_dir(self.path)
        elif kind != pafs.FileType.NotFound:
            self.fs.delete_file(self.path)

    def listdir(self) -> list:
        if self._info().type != pafs.FileType.Directory:
            return []
        return sorted(posixpath.basename(f.path) for f in self.fs.get_file_info(pafs.FileSelector(self.path)))

    def rename(self, target: str) -> None:
        self.fs.move(self.path, resolve(target)[1])

    def write_text(self, text: str) -> None:
        self.fs.create_dir(posixpath.dirname(self.path.rstrip("/")), recursive=True)
        with self.fs.open_output_stream(self.path) as stream:
            stream.write(text.encode("utf-8"))

    def read_text(self) -> str:
        with self.fs.open_input_stream(self.path) as stream:
            return stream.read().decode("utf-8")

    def qualified(self) -> str:
        parsed = urlparse(self.uri)
        return f"{parsed.scheme}://{parsed.netloc}{posixpath.normpath(parsed.path or '/')}"
