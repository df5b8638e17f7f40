"""Small models and datasets built in code (no downloads) for the demo, notebooks, benchmarks, tests.

Runs on the driver. TensorFlow is imported only inside the model builders.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .tensors import tensor_to_column


def mlp(features: int = 64, classes: int = 10, hidden=(256, 256), seed: int = 1):
    """A dense classifier: features -> hidden... -> softmax(classes)."""
    import keras

    keras.utils.set_random_seed(seed)
    layers = [keras.Input((features,), name="features")]
    layers += [keras.layers.Dense(width, activation="relu") for width in hidden]
    layers.append(keras.layers.Dense(classes, activation="softmax"))
    return keras.Sequential(layers)


def cnn(shape=(32, 32, 3), classes: int = 10, filters=(32, 64), dense: int = 128, seed: int = 3):
    """conv -> pool per entry of `filters`, then dense -> classes (the benchmark CNN by default)."""
    import keras

    keras.utils.set_random_seed(seed)
    layers = [keras.Input(shape, name="image")]
    for width in filters:
        layers += [keras.layers.Conv2D(width, 3, padding="same", activation="relu"), keras.layers.MaxPooling2D()]
    layers += [keras.layers.Flatten(), keras.layers.Dense(dense, activation="relu"), keras.layers.Dense(classes)]
    return keras.Sequential(layers)


def features_table(rows: int, shape=(64,), seed: int = 0, column: str = "features") -> pa.Table:
    """A table of `id` (int64) and a float32 tensor column of `shape` per row (nested lists)."""
    values = np.random.default_rng(seed).normal(size=(rows, *shape)).astype(np.float32)
    return pa.table({"id": pa.array(np.arange(rows, dtype=np.int64)), column: tensor_to_column(values)})


def write_parquet(table: pa.Table, path, files: int = 1) -> str:
    """Write `table` as a Parquet directory of `files` files; return the path."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    step = -(-table.num_rows // files)
    for i in range(files):
        pq.write_table(table.slice(i * step, step), os.path.join(path, f"part-{i:05d}.parquet"),
                       row_group_size=min(step, 65536) or 1)
    return str(path)
