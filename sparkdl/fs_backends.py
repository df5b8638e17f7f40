"""The driver-side file-system backends behind `sparkdl.fs`: one small object per URI.

Every backend has the same methods (exists, stamp, copy_to_local, copy_from_local, delete, listdir,
rename, write_text, read_text, qualified); `fs.backend()` picks one per URI:
* `LocalFS`: a plain local path, through Python.
* `HadoopFS`: Spark's own Hadoop `FileSystem` in the driver's JVM (py4j), so the cluster's
  core-site.xml, credentials and Kerberos setup apply; also for paths without a scheme when
  `fs.defaultFS` is not local (a YARN/HDFS cluster).
* `WebHDFS`: hdfs:// and webhdfs:// without a SparkSession, with the `hdfs` package (extra [hdfs]);
  the NameNode's HTTP address is `SPARKDL_WEBHDFS_URL`, else the URI's own host and port.
* `fs_client.ClientFS`: a Spark Connect client (no JVM in this process), through pyarrow.
"""
from __future__ import annotations

import os
import posixpath
import shutil
from pathlib import Path
from urllib.parse import urlparse

from .errors import StorageError


def java_message(error) -> str:
    """The Java exception's text of a py4j error (else the error's own)."""
    java = getattr(error, "java_exception", None)
    return str(java.toString()) if java is not None else str(error)


def normalized(uri: str) -> str:
    """scheme://authority/path without '.', '..', doubled or trailing '/' (no file system asked)."""
    parsed = urlparse(str(uri))
    return f"{parsed.scheme}://{parsed.netloc}{posixpath.normpath(parsed.path or '/')}"


class LocalFS:
    """A file or directory on the driver's disk."""

    def __init__(self, path: str):
        self.path = os.path.abspath(os.path.expanduser(str(path)))

    def exists(self) -> bool:
        return os.path.exists(self.path)

    def stamp(self) -> tuple:
        files = [self.path] if os.path.isfile(self.path) else \
            sorted(str(p) for p in Path(self.path).rglob("*") if p.is_file())
        return tuple((f, os.path.getsize(f), os.path.getmtime(f)) for f in files)

    def copy_to_local(self, local_dir: str) -> str:
        return self.path  # readable where it is

    def copy_from_local(self, local_path: str) -> None:
        self.delete()
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        (shutil.copytree if os.path.isdir(local_path) else shutil.copyfile)(local_path, self.path)

    def delete(self) -> None:
        if os.path.isdir(self.path) and not os.path.islink(self.path):
            shutil.rmtree(self.path, ignore_errors=True)
        elif os.path.lexists(self.path):
            os.remove(self.path)

    def listdir(self) -> list:
        return sorted(os.listdir(self.path)) if os.path.isdir(self.path) else []

    def rename(self, target: str) -> None:
        os.rename(self.path, urlparse(target).path if urlparse(target).scheme == "file" else target)

    def write_text(self, text: str) -> None:
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        Path(self.path).write_text(text)

    def read_text(self) -> str:
        return Path(self.path).read_text()

    def qualified(self) -> str:
        return "file://" + os.path.realpath(self.path)


class HadoopFS:
    """One Hadoop FileSystem call site through py4j (classic SparkSession, driver only)."""

    def __init__(self, spark, uri: str):
        sc = spark.sparkContext
        self.jvm, conf = sc._jvm, sc._jsc.hadoopConfiguration()
        self.path = self.jvm.org.apache.hadoop.fs.Path(str(uri))
        try:
            self.fs = self.path.getFileSystem(conf)
        except Exception as error:  # py4j wraps the Java exception
            raise StorageError(f"cannot open a file system for {uri!r}: {java_message(error)}") from None

    def _path(self, uri: str):
        return self.jvm.org.apache.hadoop.fs.Path(str(uri))

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
        self.fs.copyToLocalFile(False, self.path, self._path(target), True)
        return target

    def copy_from_local(self, local_path: str) -> None:
        self.fs.delete(self.path, True)
        self.fs.copyFromLocalFile(False, True, self._path(local_path), self.path)

    def delete(self) -> None:
        self.fs.delete(self.path, True)

    def listdir(self) -> list:
        if not self.fs.exists(self.path):
            return []
        return sorted(status.getPath().getName() for status in self.fs.listStatus(self.path))

    def rename(self, target: str) -> None:
        if not self.fs.rename(self.path, self._path(target)):
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


class WebHDFS:
    """An hdfs:// or webhdfs:// URI through the NameNode's REST API (no SparkSession)."""

    def __init__(self, uri: str):
        self.uri = str(uri)
        self.path = posixpath.normpath(urlparse(self.uri).path or "/")
        self._client = None

    @property
    def client(self):
        if self._client is None:
            try:
                from hdfs import InsecureClient
            except ImportError:
                raise StorageError(f"{self.uri!r} without a SparkSession goes through WebHDFS, which needs the "
                                   f"[hdfs] extra: pip install 'sparkdl-tf[hdfs]'") from None
            url = os.environ.get("SPARKDL_WEBHDFS_URL") or f"http://{urlparse(self.uri).netloc}"
            self._client = InsecureClient(url, user=os.environ.get("HADOOP_USER_NAME") or None)
        return self._client

    def _status(self, path=None):
        return self.client.status(path or self.path, strict=False)

    def exists(self) -> bool:
        return self._status() is not None

    def stamp(self) -> tuple:
        status = self._status()
        if status["type"] == "FILE":
            return ((self.path, status["length"], status["modificationTime"]),)
        return tuple(sorted((posixpath.join(root, name), info["length"], info["modificationTime"])
                            for (root, _), _, files in self.client.walk(self.path, status=True)
                            for name, info in files))

    def copy_to_local(self, local_dir: str) -> str:
        target = os.path.join(local_dir, posixpath.basename(self.path.rstrip("/")))
        self.client.download(self.path, target)
        return target

    def copy_from_local(self, local_path: str) -> None:
        self.delete()
        self.client.makedirs(posixpath.dirname(self.path))
        self.client.upload(self.path, local_path)

    def delete(self) -> None:
        self.client.delete(self.path, recursive=True)

    def listdir(self) -> list:
        status = self._status()
        return sorted(self.client.list(self.path)) if status and status["type"] == "DIRECTORY" else []

    def rename(self, target: str) -> None:
        self.client.rename(self.path, posixpath.normpath(urlparse(str(target)).path))

    def write_text(self, text: str) -> None:
        self.client.write(self.path, data=text, encoding="utf-8", overwrite=True)

    def read_text(self) -> str:
        with self.client.read(self.path, encoding="utf-8") as reader:
            return reader.read()

    def qualified(self) -> str:
        return normalized(self.uri)
