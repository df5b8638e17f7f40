"""Executor side: each partition's training rows, kept on the executor's local disk as .npy files.

Written once per run by the preparation job (the task that holds the cached partition converts
it to tensors) and memory-mapped by any Python worker of that executor in every later round, so
a round ships only the weights: no rows cross from the JVM to Python after the first pass. A
round task that finds no shard on its executor (it landed elsewhere, or the executor was
replaced) or a shard whose row count is not the partition's reports it, and the driver recomputes
that partition's part through the cached rows of that partition, which stores the shard there for
the next rounds. A stored shard is replaced only by one with a different row count (never by a
copy of itself). Files live under Spark's per-app directory, which Spark removes when the
application ends.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from typing import Optional

import numpy as np

from ..errors import TensorError


def _root() -> str:
    from pyspark import SparkFiles

    return os.path.join(SparkFiles.getRootDirectory(), "sparkdl-shards")


def shard_dir(run_id: str, partition: int) -> str:
    return os.path.join(_root(), run_id, f"part-{partition:05d}")


class Shard:
    """A partition's rows: `features` (list of arrays, one per model input), `label`, `positions`
    and, when read from the cached rows, the training partition of each row (not stored)."""

    def __init__(self, features, label, positions, partitions=None):
        self.features, self.label, self.positions = features, label, positions
        self.partitions = partitions

    def between(self, start: int, stop: int):
        """(features, label) of the rows at training positions [start, stop), as views."""
        first, last = np.searchsorted(self.positions, [start, stop])
        features = [f[first:last] for f in self.features]
        return (features[0] if len(features) == 1 else features), self.label[first:last]


def check_finite(name: str, values: np.ndarray, positions: np.ndarray) -> None:
    """Fail fast, naming the column and the training position, on NaN or infinity."""
    if values.dtype.kind != "f":
        return
    bad = ~np.isfinite(values.reshape(len(values), -1)).all(axis=1)
    if bad.any():
        raise TensorError(f"column '{name}' holds NaN or infinity (row at training position "
                          f"{int(positions[np.argmax(bad)])}); clean the data, e.g. df.na.drop() or F.isnan filters, "
                          f"before train()")


def _stored_rows(directory: str) -> Optional[int]:
    try:
        return len(np.load(os.path.join(directory, "y.npy"), mmap_mode="r"))
    except (OSError, ValueError):
        return None


def store(run_id: str, partition: int, shard: Shard) -> None:
    """Write a shard atomically (temp dir, then rename); a concurrent writer of the same shard wins.
    A stored shard with another row count (a half-deleted or stale one) is replaced."""
    target = shard_dir(run_id, partition)
    if os.path.isdir(target):
        if _stored_rows(target) == len(shard.label):
            return
        shutil.rmtree(target, ignore_errors=True)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".staging-", dir=os.path.dirname(target))
    for i, values in enumerate(shard.features):
        np.save(os.path.join(staging, f"x{i}.npy"), values)
    np.save(os.path.join(staging, "y.npy"), shard.label)
    np.save(os.path.join(staging, "pos.npy"), shard.positions)
    try:
        os.rename(staging, target)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)


def load(run_id: str, partition: int, inputs: int) -> Optional[Shard]:
    """Memory-map a stored shard, or None when this executor has none (or cannot read it)."""
    directory = shard_dir(run_id, partition)
    if not os.path.isdir(directory):
        return None
    try:
        features = [np.load(os.path.join(directory, f"x{i}.npy"), mmap_mode="r") for i in range(inputs)]
        return Shard(features, np.load(os.path.join(directory, "y.npy"), mmap_mode="r"),
                     np.load(os.path.join(directory, "pos.npy"), mmap_mode="r"))
    except (OSError, ValueError):
        return None
