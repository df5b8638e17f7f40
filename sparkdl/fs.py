"""Driver-side file access on any Hadoop file system: hdfs://, webhdfs://, s3a://, dbfs:/, file://.

Each operation asks `backend(uri, spark)` for one small object (fs_backends.py) and calls it:
* a classic SparkSession: URIs with a scheme go through Spark's Hadoop `FileSystem` in the JVM (the
  cluster's core-site.xml, credentials, Kerberos). A path without a scheme resolves as Spark
  resolves it, against `fs.defaultFS`: on a YARN/HDFS cluster `/data/x` is `hdfs://<namenode>/data/x`;
  where `fs.defaultFS` is local (file:), it is a local path read by Python directly, like file:.
* no session: local paths and file: through Python; hdfs:// and webhdfs:// through WebHDFS (the
  `hdfs` package, extra [hdfs]; `SPARKDL_WEBHDFS_URL` names the NameNode's HTTP address); other
  schemes need a SparkSession.
* a Spark Connect session has no JVM in this process: its URIs go through pyarrow (fs_client.py).
"""
from __future__ import annotations

import tempfile
import uuid
from typing import Optional
from urllib.parse import urlparse

from .errors import StorageError
from .fs_backends import HadoopFS, LocalFS, WebHDFS, java_message, normalized

WEBHDFS_SCHEMES = ("hdfs", "webhdfs")


def scheme(uri: str) -> str:
    """The URI scheme ('' for a plain local path)."""
    parsed = urlparse(str(uri))
    return parsed.scheme if len(parsed.scheme) > 1 else ""  # 'C:' is a drive, not a scheme


def _default_fs_is_local(spark) -> bool:
    default = spark.sparkContext._jsc.hadoopConfiguration().get("fs.defaultFS") or "file:///"
    return scheme(default) in ("", "file")


def backend(uri: str, spark=None):
    """The file-system object for `uri` (see the module docstring for which one)."""
    kind = scheme(uri)
    if spark is not None:
        from .runtime.session import is_connect

        if is_connect(spark):
            from .fs_client import ClientFS

            return ClientFS(uri)
    if kind == "file":
        return LocalFS(urlparse(str(uri)).path)
    if kind == "":
        return LocalFS(uri) if spark is None or _default_fs_is_local(spark) else HadoopFS(spark, uri)
    if spark is not None:
        return HadoopFS(spark, uri)
    if kind in WEBHDFS_SCHEMES:
        return WebHDFS(uri)
    raise StorageError(f"{uri!r} needs a SparkSession (its {kind}: file system is reached through Spark's "
                       f"Hadoop libraries); pass spark=..., or use a local, hdfs:// or webhdfs:// path")


def absolute(uri: str, spark=None) -> str:
    """`uri` with the scheme and authority Spark would read it from: a path without a scheme under a
    non-local `fs.defaultFS` becomes hdfs://namenode/...; every other URI is returned as it is."""
    found = backend(uri, spark) if scheme(uri) == "" and spark is not None else None
    return found.qualified() if isinstance(found, HadoopFS) else str(uri)


def _existing(uri: str, spark):
    found = backend(uri, spark)
    if not found.exists():
        raise StorageError(f"{uri!r} does not exist")
    return found


def exists(uri: str, spark=None) -> bool:
    """Whether `uri` exists (driver side)."""
    return backend(uri, spark).exists()


def stamp(uri: str, spark=None) -> tuple:
    """Sizes and modification times of the files under `uri`: changes when the content does."""
    return _existing(uri, spark).stamp()


def localize(uri: str, spark=None) -> str:
    """Make `uri` readable as a local path; remote files are copied into a fresh temporary directory."""
    found = _existing(uri, spark)
    if isinstance(found, LocalFS) or type(getattr(found, "fs", None)).__name__ == "LocalFileSystem":
        return found.path  # a local file (on Spark Connect: pyarrow's local file system) is read where it is
    return found.copy_to_local(tempfile.mkdtemp(prefix="sparkdl-model-"))


def delete(uri: str, spark=None) -> None:
    """Remove a file or directory tree if it exists (driver side)."""
    backend(uri, spark).delete()


def upload(local_path: str, uri: str, spark=None) -> None:
    """Copy a local file or directory to `uri` (replacing it)."""
    backend(uri, spark).copy_from_local(local_path)


def listdir(uri: str, spark=None) -> list:
    """Names of the entries in directory `uri` (empty when it does not exist)."""
    return backend(uri, spark).listdir()


def rename(uri: str, target: str, spark=None) -> None:
    """Move `uri` to `target` on the same file system (atomic on HDFS and local disks)."""
    backend(uri, spark).rename(target)


def join(uri: str, *names: str) -> str:
    """Join path segments onto a URI or path."""
    return "/".join([str(uri).rstrip("/"), *names])


def write_text(uri: str, text: str, spark=None) -> None:
    """Write a small text file (a summary, a history) to `uri`."""
    backend(uri, spark).write_text(text)


def read_text(uri: str, spark=None) -> str:
    """Read a small text file (a query's identity) from `uri`."""
    return backend(uri, spark).read_text()


def qualify(uri: str, spark=None) -> str:
    """`uri` as one canonical string (scheme, authority, absolute path without '.', '..', doubled or
    trailing '/'; local paths through symlinks), so two spellings of one location compare equal."""
    found = backend(uri, spark) if spark is not None or scheme(uri) in ("", "file") else None
    return found.qualified() if found is not None else normalized(uri)


def _first_missing(uri: str, spark) -> Optional[str]:
    """The outermost directory on the way to `uri` that does not exist yet (None: `uri` exists)."""
    missing, current = None, str(uri).rstrip("/")
    while current and not exists(current, spark):
        missing, current = current, current.rpartition("/")[0]
        if urlparse(current).path in ("", "/") and scheme(current):
            break
    return missing


def check_writable(uri: str, what: str, spark=None) -> None:
    """Create and delete a marker file in directory `uri` (driver), leaving no directory it made.

    Raises StorageError naming `what` and the path when the write fails: a read-only or full
    disk, a missing permission, a file where a directory should be.
    """
    created = None
    try:
        created = _first_missing(uri, spark)
        marker = join(uri, f"_sparkdl_write_check_{uuid.uuid4().hex}")
        write_text(marker, "", spark)
        delete(marker, spark)
    except Exception as error:  # OSError here, a py4j-wrapped IOException via Hadoop
        reason = " ".join(java_message(error).split())[:300]
        raise StorageError(f"{what} {uri!r} is not writable ({reason}); fix its permissions or free space, "
                           f"or choose another path") from None
    finally:
        if created is not None:
            delete(created, spark)


def replace(uri: str, target: str, spark=None) -> None:
    """Put `uri` in `target`'s place by rename (commit by rename), removing an old `target` only after.

    The old `target` is first renamed aside (beside it, `.<name>.sparkdl-old-*`) and restored when
    the second rename fails, so at no point is the old data deleted before the new data is in place.
    """
    old = None
    if exists(target, spark):
        old = sibling(target, "old")
        rename(target, old, spark)
    try:
        rename(uri, target, spark)
    except BaseException:
        if old is not None:
            rename(old, target, spark)
        raise
    if old is not None:
        delete(old, spark)


def sibling(uri: str, tag: str) -> str:
    """A fresh hidden path next to `uri` on the same file system: `<parent>/.<name>.sparkdl-<tag>-<id>`."""
    parent, _, name = str(uri).rstrip("/").rpartition("/")
    hidden = f".{name}.sparkdl-{tag}-{uuid.uuid4().hex[:12]}"
    return f"{parent}/{hidden}" if parent or str(uri).startswith("/") else hidden
