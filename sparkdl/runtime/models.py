"""Shipping a model to executors: resolve and broadcast it (driver), unpack and cache it (executor).

Driver: `resolve_model` reads the model through `sparkdl.fs` (any Hadoop path), packs it, reads
its signature with TensorFlow and broadcasts the bytes. The result is kept per SparkContext and
URI with a stamp of the files' sizes and modification times, so calling `predict` again with an
unchanged model re-lists the files but reads, loads and broadcasts nothing. `ship_archive` does the
broadcast alone for a model the caller already packed (training).

Spark Connect has no broadcast variables and no accumulators. A packed model of up to
CONNECT_INLINE_BYTES travels inside the task's closure (the query plan); a larger one is read by
the executors from its URI, so it must be on a path they reach (a /Volumes/... path, s3:, gs:).
Each load is a log line on the executor instead of a count.

Executor, two levels, both keyed by the model's content fingerprint:
  1. disk: the archive is unpacked under the executor's Spark files directory. This copy outlives
     the Python worker, so a worker that Spark starts later loads from local disk.
  2. memory: `cached_in_worker` keeps what was built from the model (a scoring function, a
     training step) for the life of the Python worker, at most MAX_MODELS_PER_WORKER of them; the
     least recently used one is evicted and really freed (see `worker.release_evicted`).
"""
from __future__ import annotations

import dataclasses
import logging
import os
import tempfile
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Optional

from .. import fs
from ..errors import ModelNotFoundError, StorageError
from ..model_archive import ModelArchive, pack, unpack, unpacked_path
from ..signature import ModelSignature
from . import mlflow_models, worker
from .load_options import DEFAULT, LoadOptions
from .session import is_connect

log = logging.getLogger(__name__)
MAX_MODELS_PER_WORKER = 4
# Larger plans strain the Connect server: a 60 MiB model ran a local server with 1 GiB of heap out
# of memory (each task's Python function carries it), and gRPC refuses plans over 128 MiB.
CONNECT_INLINE_BYTES = 32 * 2**20
_in_worker: "OrderedDict[Hashable, Any]" = OrderedDict()
_resolved = {}
_load_counters = {}


@dataclass(frozen=True)
class ModelRef:
    """What a task needs to find its model: shipped in the task closure, the bytes in `broadcast`
    (classic Spark) or in `data` (Spark Connect)."""

    fingerprint: str
    kind: str
    name: str
    broadcast: Any  # pyspark Broadcast of the archive bytes, or None on Spark Connect
    loads: Any  # pyspark Accumulator counting loads, or None on Spark Connect
    data: Optional[bytes] = field(default=None, repr=False)  # the archive itself, on Spark Connect
    uri: Optional[str] = None  # where executors read a model too large for `data`, on Spark Connect
    options: LoadOptions = DEFAULT  # custom objects, imports, signature key: applied wherever it loads

    def archive(self) -> bytes:
        """The packed model (executor): from the broadcast, the closure, or read from `uri`."""
        if self.data is not None:
            return self.data
        return self.broadcast.value if self.broadcast is not None else _read_archive(self.uri, self.fingerprint)


@dataclass(frozen=True)
class ResolvedModel:
    uri: str
    signature: ModelSignature
    ref: ModelRef


def load_counter(sc):
    """The model-load accumulator of this SparkContext (driver side)."""
    key = sc.applicationId
    if key not in _load_counters:
        _load_counters[key] = sc.accumulator(0)
    return _load_counters[key]


def model_loads(spark) -> Optional[int]:
    """How many times Python workers loaded a model for sparkdl in this application so far.

    A model is loaded once per Python worker and device; a second `predict` with the same model
    in a reused worker loads nothing, so this stays flat across repeated calls. Spark adds the
    updates of retried tasks again: read it as "at least". None on Spark Connect, which has no
    accumulators: there each load logs `sparkdl: loaded model <fingerprint>` on the executor.
    """
    if is_connect(spark):
        return None
    return load_counter(spark.sparkContext).value


def ship_archive(sc, archive: ModelArchive, options: LoadOptions = DEFAULT) -> ModelRef:
    """Broadcast a packed model (driver side); the caller unpersists `ref.broadcast` when done."""
    return ModelRef(fingerprint=archive.fingerprint, kind=archive.kind, name=archive.name,
                    broadcast=sc.broadcast(archive.data), loads=load_counter(sc), options=options)


def ship_for_connect(archive: ModelArchive, uri: str) -> ModelRef:
    """Spark Connect (driver side): a reference carrying the packed model when it is small, else its URI."""
    if len(archive.data) <= CONNECT_INLINE_BYTES:
        return ModelRef(fingerprint=archive.fingerprint, kind=archive.kind, name=archive.name, broadcast=None,
                        loads=None, data=archive.data)
    log.info("model %s packs to %.0f MiB, over the %.0f MiB shipped in a Spark Connect plan: the executors "
             "read it from there", uri, len(archive.data) / 2**20, CONNECT_INLINE_BYTES / 2**20)
    absolute = os.path.abspath(uri) if fs.scheme(uri) == "" else uri
    return ModelRef(fingerprint=archive.fingerprint, kind=archive.kind, name=archive.name, broadcast=None,
                    loads=None, uri=absolute)


def _read_archive(uri: str, fingerprint: str) -> bytes:
    """Executor, Spark Connect: pack the model at `uri` here, checking it is the one the driver packed."""
    from ..fs_client import ClientFS

    with tempfile.TemporaryDirectory(prefix="sparkdl-model-") as staging:
        try:
            archive = pack(ClientFS(uri).copy_to_local(staging))
        except (OSError, ModelNotFoundError, StorageError) as error:
            raise StorageError(
                f"an executor cannot read the model at {uri!r} ({error}); on Spark Connect a model over "
                f"{CONNECT_INLINE_BYTES / 2**20:.0f} MiB is read by the executors from its path: put it where they "
                f"can read it (a /Volumes/... path, s3:, gs:), or score from a classic session") from None
    if archive.fingerprint != fingerprint:
        raise StorageError(f"the model at {uri!r} changed after the driver read it; run the query again")
    return archive.data


def _session_key(spark) -> str:
    """What the driver's model cache is kept per: the Spark application, or the Connect session."""
    return spark.session_id if is_connect(spark) else spark.sparkContext.applicationId


def temporary_dir(prefix: str) -> str:
    """A local temporary directory deleted when this (driver) process exits."""
    import atexit
    import shutil
    import tempfile

    directory = tempfile.mkdtemp(prefix=prefix)
    atexit.register(shutil.rmtree, directory, True)
    return directory


def keras_object_uri(model, prefix: str = "sparkdl-model-") -> str:
    """Save an in-memory keras.Model to a temporary `.keras` file (driver) that lives as long as the
    driver process; return its file: URI (a plain path would mean the cluster's fs.defaultFS)."""
    import pathlib

    from ..tf.model_io import save_for_shipping

    return pathlib.Path(save_for_shipping(model, temporary_dir(prefix))).as_uri()


def resolve_model(spark, uri, options: LoadOptions = DEFAULT) -> ResolvedModel:
    """Pack, describe and broadcast the model at `uri` (cached while its files are unchanged).

    `uri` may also be a keras.Model object: it is saved to a temporary `.keras` file and shipped.
    `options` travel in the ModelRef and take part in both caches' keys.
    """
    options = options or DEFAULT
    if hasattr(uri, "get_config") and hasattr(uri, "save") and hasattr(uri, "inputs"):
        uri = keras_object_uri(uri)
    if not isinstance(uri, (str, bytes)) and not hasattr(uri, "__fspath__"):
        raise ModelNotFoundError(f"model must be a path or URI string, got {type(uri).__name__}; save a Keras "
                                 f"model with model.save('model.keras') or model.export('dir') first")
    uri = str(uri)
    if mlflow_models.is_mlflow_uri(uri):  # models:/, runs:/ -> the downloaded copy of a concrete version
        uri = mlflow_models.localize(uri)
    try:
        stamp = fs.stamp(uri, spark)
    except StorageError as error:
        raise ModelNotFoundError(f"cannot read model {uri!r}: {error}. Check the path; a SavedModel "
                                 f"directory or a .keras file is expected") from None
    key = (_session_key(spark), uri, options.key())
    cached = _resolved.get(key)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    started = time.perf_counter()
    local = fs.localize(uri, spark)  # copies a remote model only when it is new or changed
    archive = pack(local)
    from ..tf.model_io import describe_model

    signature = describe_model(local, archive.kind, options)
    if cached is not None and cached[1].ref.broadcast is not None:
        cached[1].ref.broadcast.unpersist()
    ref = ship_for_connect(archive, uri) if is_connect(spark) else ship_archive(spark.sparkContext, archive)
    resolved = ResolvedModel(uri, signature, dataclasses.replace(ref, options=options))
    _resolved[key] = (stamp, resolved)
    log.info("model %s (%s, %.1f MB, fingerprint %s) ready in %.2fs: %s", uri, archive.kind,
             len(archive.data) / 1e6, archive.fingerprint[:12], time.perf_counter() - started, signature.describe())
    return resolved


def _model_root() -> str:
    from pyspark import SparkFiles

    return os.path.join(SparkFiles.getRootDirectory(), "sparkdl-models")


def local_model_path(ref: ModelRef, root: str = None) -> str:
    """Unpack the model on this executor if no earlier worker did; return its local path (executor)."""
    root = root or _model_root()
    existing = unpacked_path(ref.fingerprint, ref.name, root)
    return existing or unpack(ref.archive(), ref.fingerprint, ref.name, root)


def cached_in_worker(key: Hashable, build: Callable[[], Any]) -> Any:
    """Return what `build()` made for `key` in this Python worker, building it on first use (executor).

    At most MAX_MODELS_PER_WORKER entries live at once; building a new one evicts the least
    recently used, which is then freed (not left pinned by the gc policy).
    """
    if key in _in_worker:
        _in_worker.move_to_end(key)
        return _in_worker[key]
    value = build()
    _in_worker[key] = value
    evicted = 0
    while len(_in_worker) > MAX_MODELS_PER_WORKER:
        _in_worker.popitem(last=False)
        evicted += 1
    if evicted:
        worker.release_evicted()
    worker.exclude_from_gc()
    return value


def get_model(ref: ModelRef, device):
    """Return the scoring model loaded in this worker on `device`, loading it on first use (executor)."""

    def load():
        from ..tf.model_io import load_model

        started = time.perf_counter()
        model = load_model(local_model_path(ref), ref.kind, device, ref.options)
        if ref.loads is not None:
            ref.loads.add(1)
        log.info("loaded model %s (%s) on %s in %.2fs, pid %d", ref.fingerprint[:12], ref.kind,
                 device or "default device", time.perf_counter() - started, os.getpid())
        return model

    return cached_in_worker(("score", ref.fingerprint, ref.options.key(), device), load)
