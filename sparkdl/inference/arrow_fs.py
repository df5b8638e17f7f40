"""pyarrow file systems for `score_files`: one URI -> (FileSystem, path), and the data files under it.

Used on the driver (listing, commit) and on executors (reading, writing), so that no byte of the
data passes through the JVM. Schemes: a plain path or file: (local), s3:/s3a:/s3n: (S3), gs:
(GCS), hdfs: (libhdfs, where the cluster provides it), webhdfs://<namenode>:<http port>/ (WebHDFS
through fsspec), dbfs:/ (Databricks' /dbfs mount). Without libhdfs, the driver turns an hdfs: URI
into a webhdfs: one when SPARKDL_WEBHDFS_URL names the NameNode's HTTP address (`task_uri`), so
executors need neither libhdfs nor that variable.
"""
from __future__ import annotations

import os
from typing import List, Tuple
from urllib.parse import urlparse

import pyarrow.fs as pafs

from .. import fs
from ..errors import StorageError
from ..fs_client import open_uri


def resolve(uri: str) -> Tuple[pafs.FileSystem, str]:
    """The pyarrow FileSystem holding `uri` and the path of `uri` inside it."""
    uri = str(uri)
    if fs.scheme(uri) == "webhdfs":
        return _webhdfs(uri)
    try:
        return open_uri(uri)
    except Exception as error:  # pyarrow raises ArrowInvalid, OSError or ImportError by backend
        if fs.scheme(uri) == "hdfs" and os.environ.get("SPARKDL_WEBHDFS_URL"):
            return _webhdfs(_as_webhdfs(uri))
        raise StorageError(f"pyarrow cannot open {uri!r}: {error}. Use a scheme pyarrow reaches (file:, s3:, gs:, "
                           f"hdfs: with libhdfs, webhdfs://namenode:port/..., or set SPARKDL_WEBHDFS_URL to the "
                           f"NameNode's http://host:port), or engine='spark'") from None


def task_uri(uri: str) -> str:
    """Driver: `uri` as executors should open it: an hdfs: URI that only WebHDFS reaches from here
    becomes webhdfs://<SPARKDL_WEBHDFS_URL's host:port>/<path>; anything else is unchanged."""
    uri = str(uri)
    if fs.scheme(uri) != "hdfs" or not os.environ.get("SPARKDL_WEBHDFS_URL"):
        return uri
    try:
        open_uri(uri)
        return uri  # libhdfs works here, and (the cluster provides it) on the executors
    except Exception:
        return _as_webhdfs(uri)


def _as_webhdfs(uri: str) -> str:
    http = urlparse(os.environ["SPARKDL_WEBHDFS_URL"])
    return f"webhdfs://{http.hostname}:{http.port or 9870}{urlparse(uri).path}"


def _webhdfs(uri: str) -> Tuple[pafs.FileSystem, str]:
    """A webhdfs://host:port/path URI through fsspec (user: HADOOP_USER_NAME, when set)."""
    try:
        import fsspec
    except ImportError:
        raise StorageError(f"reading {uri!r} over WebHDFS needs fsspec: pip install fsspec") from None
    parsed = urlparse(uri)
    handler = pafs.FSSpecHandler(fsspec.filesystem("webhdfs", host=parsed.hostname, port=parsed.port or 9870,
                                                   user=os.environ.get("HADOOP_USER_NAME")))
    return pafs.PyFileSystem(handler), parsed.path


def arrow_reads(uri: str) -> bool:
    """Whether pyarrow reaches `uri` from here and finds something there (the job's `--engine auto`)."""
    try:
        filesystem, path = resolve(uri)
        return filesystem.get_file_info(path).type != pafs.FileType.NotFound
    except (StorageError, OSError):
        return False


def _hidden(relative: str) -> bool:
    """Spark's rule: names starting with '_' or '.' (_SUCCESS, _temporary, .crc files) are not data."""
    return any(part.startswith(("_", ".")) for part in relative.split("/"))


def data_files(filesystem: pafs.FileSystem, path: str, uri: str) -> List[pafs.FileInfo]:
    """The data files at `path` (a file, or every non-hidden file below a directory), sorted by path."""
    info = filesystem.get_file_info(path)
    if info.type == pafs.FileType.NotFound:
        raise StorageError(f"input {uri!r} does not exist; check the path and its scheme (file:, hdfs:, s3a:)")
    if info.type == pafs.FileType.File:
        return [info]
    found = filesystem.get_file_info(pafs.FileSelector(path, recursive=True))
    root = path.rstrip("/") + "/"
    files = [f for f in found if f.type == pafs.FileType.File and not _hidden(f.path[len(root):])]
    if not files:
        raise StorageError(f"input {uri!r} holds no data files (names starting with '_' or '.' are skipped); "
                           f"check the path")
    return sorted(files, key=lambda f: f.path)

