"""Driver-side file access on any Hadoop file system: hdfs://, webhdfs://, s3a://, dbfs:/, file://.

With a SparkSession, URIs that carry a scheme go through Spark's own Hadoop `FileSystem` in the
JVM, so the cluster's core-site.xml, credentials and Kerberos setup apply (file:// URIs take this
same path, which is how the tests exercise it: no NameNode can run on the CI machines). Paths
without a scheme are local files and use Python directly. Without a session (a notebook helper, a
CLI step), hdfs:// and webhdfs:// go through WebHDFS with the `hdfs` package (extra [hdfs]).
A Spark Connect session has no JVM in this process: its URIs go through pyarrow (fs_client.py).
"""
from __future__ import annotations

import os
import posixpath
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Optional
from urllib.parse import urlparse

from .errors import StorageError


def scheme(uri: str) -> str:
    """The URI scheme ('' for a plain local path)."""
    parsed = urlparse(str(uri))
    return parsed.scheme if len(parsed.scheme) > 1 else ""  # 'C:' is a drive, not a scheme


def _spark_jvm(spark):
    sc = spark.sparkContext
    return sc._jvm, sc._jsc.hadoopConfiguration()


class _HadoopFS:
    """One Hadoop FileSystem call site through py4j (driver only); a `ClientFS` on Spark Connect."""

    def __new__(cls, spark, uri: str):
        from .runtime.session import is_connect

        if is_connect(spark):
            from .fs_client import ClientFS

            return ClientFS(uri)
        return super().__new__(cls)

    def __init__(self, spark, uri: str):
        self.jvm, self.conf = _spark_jvm(spark)
        self.path = self.jvm.org.apache.hadoop.fs.Path(str(uri))
        try:
            self.fs = self.path.getFileSystem(self.conf)
        except Exception as error:  # py4j wraps the Java exception
            raise StorageError(f"cannot open a file system for {uri!r}: {_java_message(error)}") from None

    def exists(self) -> bool:
        return bool(self.fs.exists(self.path))

    def stamp(self) -> tuple:
        files = self.fs.listFiles(self.path, True)
        entries = []
        while files.hasNext():
            status = files.next()
            entries.append((status.getPath().toString(), status.getLen(), status.getModificationTime()))
        return tuple(sorted(entries))

    def copy_to_local(self, local_dir: str) -> str:
        target = os.path.join(local_dir, self.path.getName())
        self.fs.copyToLocalFile(False, self.path, self.jvm.org.apache.hadoop.fs.Path(target), True)
        return target

    def copy_from_local(self, local_path: str) -> None:
        self.fs.copyFromLocalFile(False, True, self.jvm.org.apache.hadoop.fs.Path(local_path), self.path)

    def delete(self) -> None:
        self.fs.delete(self.path, True)

    def listdir(self) -> list:
        if not self.fs.exists(self.path):
            return []
        return sorted(status.getPath().getName() for status in self.fs.listStatus(self.path))

    def rename(self, target: str) -> None:
        if not self.fs.rename(self.path, self.jvm.org.apache.hadoop.fs.Path(target)):
            raise StorageError(f"could not rename {self.path.toString()!r} to {target!r}")

    def write_text(self, text: str) -> None:
        stream = self.fs.create(self.path, True)
        try:
            stream.write(bytearray(text.encode("utf-8")))
        finally:
            stream.close()

    def read_text(self) -> str:
        stream = self.fs.open(self.path)
        try:
            return str(self.jvm.org.apache.commons.io.IOUtils.toString(stream, "UTF-8"))
        finally:
            stream.close()

    def qualified(self) -> str:
        return str(self.fs.makeQualified(self.path).toString())


def _java_message(error) -> str:
    java = getattr(error, "java_exception", None)
    return str(java.toString()) if java is not None else str(error)


def _webhdfs_client(uri: str):
    try:
        from hdfs import InsecureClient
    except ImportError:
        raise StorageError(f"reading {uri!r} without a SparkSession needs the [hdfs] extra: "
                           f"pip install 'sparkdl-tf[hdfs]'") from None
    parsed = urlparse(uri)
    url = os.environ.get("SPARKDL_WEBHDFS_URL") or f"http://{parsed.netloc}"
    return InsecureClient(url, user=os.environ.get("HADOOP_USER_NAME")), parsed.path


def _local(uri: str) -> Optional[str]:
    """The absolute local path for a path without a scheme, else None."""
    if scheme(uri) == "":
        return os.path.abspath(os.path.expanduser(str(uri)))
    return None


def exists(uri: str, spark=None) -> bool:
    """Whether `uri` exists (driver side)."""
    local = _local(uri)
    if local is not None:
        return os.path.exists(local)
    if spark is not None:
        return _HadoopFS(spark, uri).exists()
    if scheme(uri) == "file":
        return os.path.exists(urlparse(uri).path)
    client, path = _webhdfs_client(uri)
    return client.status(path, strict=False) is not None


def _plain_local(uri: str, spark) -> Optional[str]:
    """The local path Python reads directly: no scheme, or file: without a SparkSession."""
    return _local(uri) or (urlparse(uri).path if spark is None and scheme(uri) == "file" else None)


def stamp(uri: str, spark=None) -> tuple:
    """Sizes and modification times of the files under `uri`: changes when the content does."""
    local = _plain_local(uri, spark)
    if local is not None:
        if not os.path.exists(local):
            raise StorageError(f"{uri!r} does not exist")
        files = [local] if os.path.isfile(local) else sorted(str(p) for p in Path(local).rglob("*") if p.is_file())
        return tuple((f, os.path.getsize(f), os.path.getmtime(f)) for f in files)
    if spark is not None:
        hadoop = _HadoopFS(spark, uri)
        if not hadoop.exists():
            raise StorageError(f"{uri!r} does not exist")
        return hadoop.stamp()
    client, path = _webhdfs_client(uri)
    status = client.status(path, strict=False)
    if status is None:
        raise StorageError(f"{uri!r} does not exist")
    return (uri, status.get("modificationTime"), status.get("length"))


def localize(uri: str, spark=None) -> str:
    """Make `uri` readable as a local path; remote files are copied into a fresh temporary directory."""
    local = _plain_local(uri, spark)
    if local is not None:
        if not os.path.exists(local):
            raise StorageError(f"{uri!r} does not exist")
        return local
    target_dir = tempfile.mkdtemp(prefix="sparkdl-model-")
    if spark is not None:
        hadoop = _HadoopFS(spark, uri)
        if not hadoop.exists():
            raise StorageError(f"{uri!r} does not exist")
        return hadoop.copy_to_local(target_dir)
    client, path = _webhdfs_client(uri)
    if client.status(path, strict=False) is None:
        raise StorageError(f"{uri!r} does not exist")
    target = os.path.join(target_dir, os.path.basename(path.rstrip("/")))
    client.download(path, target)
    return target


def delete(uri: str, spark=None) -> None:
    """Remove a file or directory tree if it exists (driver side)."""
    local = _local(uri)
    if local is not None:
        if os.path.isdir(local):
            shutil.rmtree(local, ignore_errors=True)
        elif os.path.exists(local):
            os.remove(local)
        return
    if spark is None:
        raise StorageError(f"deleting {uri!r} needs a SparkSession")
    _HadoopFS(spark, uri).delete()


def upload(local_path: str, uri: str, spark=None) -> None:
    """Copy a local file or directory to `uri` (replacing it)."""
    local = _local(uri)
    if local is not None:
        delete(local)
        os.makedirs(os.path.dirname(local) or ".", exist_ok=True)
        (shutil.copytree if os.path.isdir(local_path) else shutil.copyfile)(local_path, local)
        return
    if spark is None:
        raise StorageError(f"writing {uri!r} needs a SparkSession")
    _HadoopFS(spark, uri).copy_from_local(local_path)


def listdir(uri: str, spark=None) -> list:
    """Names of the entries in directory `uri` (empty when it does not exist)."""
    local = _local(uri)
    if local is not None:
        return sorted(os.listdir(local)) if os.path.isdir(local) else []
    if spark is None:
        raise StorageError(f"listing {uri!r} needs a SparkSession")
    return _HadoopFS(spark, uri).listdir()


def rename(uri: str, target: str, spark=None) -> None:
    """Move `uri` to `target` on the same file system (atomic on HDFS and local disks)."""
    local = _local(uri)
    if local is not None:
        os.rename(local, _local(target) or target)
        return
    if spark is None:
        raise StorageError(f"renaming {uri!r} needs a SparkSession")
    _HadoopFS(spark, uri).rename(target)


def join(uri: str, *names: str) -> str:
    """Join path segments onto a URI or path."""
    return "/".join([str(uri).rstrip("/"), *names])


def write_text(uri: str, text: str, spark=None) -> None:
    """Write a small text file (a summary, a history) to `uri`."""
    local = _local(uri)
    if local is not None:
        os.makedirs(os.path.dirname(local) or ".", exist_ok=True)
        Path(local).write_text(text)
        return
    if spark is None:
        raise StorageError(f"writing {uri!r} needs a SparkSession")
    _HadoopFS(spark, uri).write_text(text)


def read_text(uri: str, spark=None) -> str:
    """Read a small text file (a query's identity) from `uri`."""
    local = _plain_local(uri, spark)
    if local is not None:
        return Path(local).read_text()
    if spark is None:
        raise StorageError(f"reading {uri!r} needs a SparkSession")
    return _HadoopFS(spark, uri).read_text()


def qualify(uri: str, spark=None) -> str:
    """`uri` as one canonical string (scheme, authority, absolute path without '.', '..', doubled or
    trailing '/'; local paths through symlinks), so two spellings of one location compare equal."""
    local = _local(uri) or (urlparse(str(uri)).path if scheme(uri) == "file" else None)
    if local is not None:
        return "file://" + os.path.realpath(local)
    if spark is not None:
        return _HadoopFS(spark, uri).qualified()
    parsed = urlparse(str(uri))
    return f"{parsed.scheme}://{parsed.netloc}{posixpath.normpath(parsed.path or '/')}"


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
        reason = " ".join(_java_message(error).split())[:300]
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
