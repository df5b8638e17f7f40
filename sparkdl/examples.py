"""Small datasets built in code (no downloads) for the demo, notebooks, benchmarks and tests.

Runs on the driver. The matching models are in `sparkdl.tf.example_models`.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .tensors import tensor_to_column


def features_table(rows: int, shape=(64,), seed: int = 0, column: str = "features") -> pa.Table:
    """A table of `id` (int64) and a float32 tensor column of `shape` per row (nested lists)."""
    values = np.random.default_rng(seed).normal(size=(rows, *shape)).astype(np.float32)
    return pa.table({"id": pa.array(np.arange(rows, dtype=np.int64)), column: tensor_to_column(values)})


def write_parquet(table: pa.Table, path, files: int = 1, prefix: str = "part") -> str:
    """Write `table` into the Parquet directory `path` as `files` files named <prefix>-N; return the path."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    step = -(-table.num_rows // files)
    for i in range(files):
        pq.write_table(table.slice(i * step, step), os.path.join(path, f"{prefix}-{i:05d}.parquet"),
                       row_group_size=min(step, 65536) or 1)
    return str(path)
