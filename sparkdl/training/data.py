"""Driver side: lay the training rows out once, in a fixed training order.

Each row gets a position in the training order (the DataFrame's order, or a seeded shuffle of
it), computed in the JVM from per-partition counts and `monotonically_increasing_id`, so no row
passes through Python for it. Rows are hash-partitioned over P partitions by position (so every
round's window of positions is spread evenly, about W/P rows per partition), sorted by position
inside each partition, tagged with their partition id, and cached; round r covers positions
[r*W, (r+1)*W). Rounds map over the cached partitions with no row selected (`anchor`), so a
round's task runs where its partition's rows, and so its shard, are. The layout is
deterministic: if an executor is lost, Spark recomputes the same partitions from lineage, which
keeps `sync` results identical to a run without the failure. The rows of each partition are
counted once: they depend only on the row count (the positions 0..N-1 hashed), so executors can
tell a complete shard from an empty or stale one.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Tuple

from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from ..errors import SchemaError
from ..runtime.schema import column
from .rounds import PARTITION, POSITION


@dataclass(frozen=True)
class TrainingData:
    """The cached, position-ordered training rows (driver handle)."""

    df: DataFrame
    rows: int
    partitions: int
    columns: tuple
    partition_rows: Tuple[int, ...]  # rows of each partition, by partition id
    anchor: Any = None  # RDD: one empty partition per training partition, where its cached rows are

    def round_tasks(self, sc):
        """The RDD a round maps over, one task per training partition: `anchor` (the cached rows'
        partitions with no row selected, so each task prefers the executor holding that partition's
        cached rows, hence its shard), or `parallelize` where Spark planned the anchor otherwise."""
        return self.anchor if self.anchor is not None else sc.parallelize(range(self.partitions), self.partitions)

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
    """Select `columns` (names taken literally: dots and spaces are part of them), order them for
    training, spread over `partitions`, cache and count (driver)."""
    selected = df.select(*[column(name) for name in columns])
    if shuffle:
        selected = _positions(selected).orderBy(F.xxhash64(F.col(POSITION), F.lit(seed))).drop(POSITION)
    laid_out = (_positions(selected)
                .repartition(partitions, F.col(POSITION))
                .sortWithinPartitions(POSITION)
                .withColumn(PARTITION, F.spark_partition_id())
                .persist(StorageLevel.MEMORY_AND_DISK))
    try:
        counts = dict(laid_out.groupBy(PARTITION).count().collect())
        partition_rows = tuple(counts.get(p, 0) for p in range(partitions))
        if sum(partition_rows) == 0:
            raise SchemaError("the training DataFrame is empty; check the input path and any filters before train()")
        return TrainingData(df=laid_out, rows=sum(partition_rows), partitions=partitions, columns=tuple(columns),
                            partition_rows=partition_rows, anchor=_anchor(laid_out, partitions))
    except BaseException:  # empty, cancelled or failed: nothing stays cached
        laid_out.unpersist()
        raise


def _anchor(laid_out: DataFrame, partitions: int):
    """No rows of the cached partitions (every cached batch is skipped by its statistics; a literal
    false filter would be planned as an empty relation without the cache's partitions). None in
    local mode: one executor holds every shard, and a `parallelize` round is ~30 ms faster there."""
    master = laid_out.sparkSession.sparkContext.master
    if master == "local" or master.startswith("local["):
        return None
    anchor = laid_out.select(PARTITION).filter(F.col(PARTITION) < 0).rdd
    return anchor if anchor.getNumPartitions() == partitions else None
