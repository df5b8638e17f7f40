"""Driver side: lay the training rows out once, in a fixed training order.

Each row gets a position in the training order (the DataFrame's order, or a seeded shuffle of
it), computed in the JVM from per-partition counts and `monotonically_increasing_id`, so no row
passes through Python for it. Rows are hash-partitioned over P partitions by position (so every
round's window of positions is spread evenly, about W/P rows per partition), sorted by position
inside each partition, tagged with their partition id, and cached; round r covers positions
[r*W, (r+1)*W). The layout is deterministic: if an executor is lost, Spark recomputes the same
partitions from lineage, which keeps `sync` results identical to a run without the failure. The
rows of each partition are counted once: a partition's rows depend only on the row count (the
positions 0..N-1 hashed), so executors can tell a complete shard from an empty or stale one.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from ..errors import SchemaError
from .rounds import PARTITION, POSITION


@dataclass(frozen=True)
class TrainingData:
    """The cached, position-ordered training rows (driver handle)."""

    df: DataFrame
    rows: int
    partitions: int
    columns: tuple
    partition_rows: Tuple[int, ...]  # rows of each partition, by partition id

    def of_partitions(self, partitions) -> DataFrame:
        """The cached rows of the given partitions only. Every partition still gets a task, but the
        others' cached batches are skipped by their statistics (min = max = partition id), so
        those tasks read nothing."""
        return self.df.filter(F.col(PARTITION).isin([int(p) for p in partitions]))

    def release(self) -> None:
        self.df.unpersist()


def _positions(df: DataFrame) -> DataFrame:
    """Add the global row index (partition order, then row order) as POSITION, in the JVM."""
    pid = F.spark_partition_id()
    counts = dict(df.groupBy(pid.alias("p")).count().collect())
    offsets, total = {}, 0
    for partition in sorted(counts):
        offsets[partition] = total
        total += counts[partition]
    if not offsets:
        return df.withColumn(POSITION, F.lit(0).cast("long"))
    offset = F.create_map(*[item for p, o in offsets.items() for item in (F.lit(p), F.lit(o).cast("long"))])
    local_index = F.monotonically_increasing_id() - F.shiftleft(pid.cast("long"), 33)
    return df.withColumn(POSITION, F.element_at(offset, pid) + local_index)


def prepare(df: DataFrame, columns, partitions: int, shuffle: bool, seed: int) -> TrainingData:
    """Select `columns`, order them for training, spread over `partitions`, cache and count."""
    selected = df.select(*columns)
    if shuffle:
        selected = _positions(selected).orderBy(F.xxhash64(F.col(POSITION), F.lit(seed))).drop(POSITION)
    laid_out = (_positions(selected)
                .repartition(partitions, F.col(POSITION))
                .sortWithinPartitions(POSITION)
                .withColumn(PARTITION, F.spark_partition_id())
                .persist(StorageLevel.MEMORY_AND_DISK))
    counts = dict(laid_out.groupBy(PARTITION).count().collect())
    partition_rows = tuple(counts.get(p, 0) for p in range(partitions))
    rows = sum(partition_rows)
    if rows == 0:
        laid_out.unpersist()
        raise SchemaError("the training DataFrame is empty; check the input path and any filters before train()")
    return TrainingData(df=laid_out, rows=rows, partitions=partitions, columns=tuple(columns),
                        partition_rows=partition_rows)
