"""Driver side: lay the training rows out once, in a fixed training order.

Each row gets a position in the training order (the DataFrame's order, or a seeded shuffle of
it), computed in the JVM from per-partition counts and `monotonically_increasing_id`, so no row
passes through Python for it. Rows are hash-partitioned over P partitions by position (so every
round's window of positions is spread evenly, about W/P rows per partition), sorted by position
inside each partition, and cached; round r covers positions [r*W, (r+1)*W). The layout is
deterministic: if an executor is lost, Spark recomputes the same partitions from lineage, which
keeps `sync` results identical to a run without the failure.
"""
from __future__ import annotations

from dataclasses import dataclass

from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from ..errors import SchemaError
from .executor import POSITION


@dataclass(frozen=True)
class TrainingData:
    """The cached, position-ordered training rows (driver handle)."""

    df: DataFrame
    rows: int
    partitions: int
    columns: tuple

    def partitions_of(self, partitions) -> DataFrame:
        """The cached rows (with positions) of the given partitions only."""
        return self.df.filter(F.spark_partition_id().isin(list(partitions)))

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
                .persist(StorageLevel.MEMORY_AND_DISK))
    rows = laid_out.count()
    if rows == 0:
        laid_out.unpersist()
        raise SchemaError("the training DataFrame is empty; check the input path and any filters before train()")
    return TrainingData(df=laid_out, rows=rows, partitions=partitions, columns=tuple(columns))
