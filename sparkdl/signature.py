"""Plain descriptions of a model's inputs and outputs (no TensorFlow, no Spark).

Built on the driver by `sparkdl.tf.model_io` and shipped to executors inside closures.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

Shape = Tuple[Optional[int], ...]


@dataclass(frozen=True)
class TensorSpec:
    """One named tensor: `shape` includes the batch dimension first (usually None)."""

    name: str
    shape: Shape
    dtype: str  # numpy dtype name, e.g. "float32"; "string" for tf.string (numpy object)

    @property
    def inner_shape(self) -> Shape:
        """The shape of one example: everything after the batch dimension."""
        return tuple(self.shape[1:])

    @property
    def numpy_dtype(self) -> np.dtype:
        return np.dtype(object) if self.dtype == "string" else np.dtype(self.dtype)

    def describe(self) -> str:
        dims = ", ".join("?" if d is None else str(d) for d in self.inner_shape)
        return f"'{self.name}' {self.dtype}[{dims}]"


@dataclass(frozen=True)
class ModelSignature:
    """The inputs and outputs of a model, in the order the model declares them."""

    inputs: Tuple[TensorSpec, ...]
    outputs: Tuple[TensorSpec, ...]

    def input_names(self) -> list:
        return [spec.name for spec in self.inputs]

    def output_names(self) -> list:
        return [spec.name for spec in self.outputs]

    def describe(self) -> str:
        ins = ", ".join(s.describe() for s in self.inputs)
        outs = ", ".join(s.describe() for s in self.outputs)
        return f"inputs ({ins}) -> outputs ({outs})"
