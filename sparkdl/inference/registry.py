"""Driver side: turn a model path into a broadcast archive plus its signature, once per version.

`resolve_model` reads the model through `sparkdl.fs` (any Hadoop path), packs it, reads its
signature with TensorFlow, and broadcasts the bytes. The result is kept per SparkContext and
model URI together with a stamp of the files' sizes and modification times, so calling `predict`
again with an unchanged model re-lists the files but reads, loads and broadcasts nothing, and
executors reuse the model they already hold.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from .. import fs
from ..errors import ModelNotFoundError, StorageError
from ..model_archive import pack
from ..signature import ModelSignature
from .cache import ModelRef
from .metrics import load_counter

log = logging.getLogger("sparkdl")
_resolved = {}


@dataclass(frozen=True)
class ResolvedModel:
    uri: str
    signature: ModelSignature
    ref: ModelRef


def resolve_model(spark, uri) -> ResolvedModel:
    """Pack, describe and broadcast the model at `uri` (cached while its files are unchanged)."""
    if not isinstance(uri, (str, bytes)) and not hasattr(uri, "__fspath__"):
        raise ModelNotFoundError(f"model must be a path or URI string, got {type(uri).__name__}; save a Keras "
                                 f"model with model.save('model.keras') or model.export('dir') first")
    uri = str(uri)
    try:
        stamp = fs.stamp(uri, spark)
    except StorageError as error:
        raise ModelNotFoundError(f"cannot read model {uri!r}: {error}. Check the path; a SavedModel "
                                 f"directory or a .keras file is expected") from None
    sc = spark.sparkContext
    key = (sc.applicationId, uri)
    cached = _resolved.get(key)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    started = time.perf_counter()
    local = fs.localize(uri, spark)  # copies a remote model only when it is new or changed
    archive = pack(local)
    from ..tf.model_io import describe_model

    signature = describe_model(local, archive.kind)
    ref = ModelRef(fingerprint=archive.fingerprint, kind=archive.kind, name=archive.name,
                   broadcast=sc.broadcast(archive.data), loads=load_counter(sc))
    if cached is not None:
        cached[1].ref.broadcast.unpersist()
    resolved = ResolvedModel(uri, signature, ref)
    _resolved[key] = (stamp, resolved)
    log.info("sparkdl: model %s (%s, %.1f MB, fingerprint %s) ready in %.2fs: %s", uri, archive.kind,
             len(archive.data) / 1e6, archive.fingerprint[:12], time.perf_counter() - started, signature.describe())
    return resolved
