"""Arrow columns <-> numpy tensors, with no per-row Python. Pure pyarrow/numpy; runs on executors.

Input side (`column_to_tensor`): a scalar column becomes a 1-d array; list columns (Spark's
`array<...>`, nested for n-d) become one n-d array. Fixed-size lists and the list values buffer are
used as zero-copy views; variable lists are accepted when every row has the same length, which is
checked through the offsets buffer, not per row. Nulls and ragged rows raise TensorError naming the
column, with the first bad row's index in `TensorError.row` (the scoring loop names the row).

A binary column may hold each row's tensor as raw bytes (C order, the model input's dtype, native
byte order, as `ndarray.tobytes()` writes them): the fastest form, since neither the JVM nor
Python touches the values one by one.

A flat list column may also feed an n-d input whose dimensions are all known (3072 floats for a
32x32x3 image): the flat values are reshaped as a view, never copied.

A scalar column feeds an input whose every dimension is 1 (Keras' `Input(shape=(1,))`): the values
are reshaped as a view. String columns (and lists of strings) feed `tf.string` inputs as numpy
object arrays. Integer values that do not fit the model's integer dtype raise TensorError.

Output side (`tensor_to_column`): an n-d array becomes nested list arrays sharing the array's
memory (offsets are computed, values are not copied).
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import pyarrow as pa

from .errors import TensorError

_LIST_TYPES = (pa.types.is_list, pa.types.is_large_list, pa.types.is_fixed_size_list)


def is_list_type(arrow_type: pa.DataType) -> bool:
    return any(check(arrow_type) for check in _LIST_TYPES)


def check_cast(source: np.dtype, target: np.dtype, what: str) -> None:
    """Allow the casts a user expects (ints/bools -> floats, float64 -> float32, int widening).

    Refuse those that silently lose meaning: floats -> ints, anything non-numeric.
    """
    source, target = np.dtype(source), np.dtype(target)
    if source == target:
        return
    numeric = "biuf"
    if source.kind not in numeric or target.kind not in numeric:
        raise TensorError(f"{what}: cannot feed {source} values to a {target} model input; "
                          f"cast the column to a numeric type first")
    if source.kind == "f" and target.kind in "biu":
        raise TensorError(f"{what}: the column holds {source} but the model input is {target}; "
                          f"round and cast the column explicitly (e.g. F.col(c).cast('int')) to choose how")


STRING = "string"  # TensorSpec.dtype of a tf.string tensor (numpy holds it as object)


def is_string_type(arrow_type: pa.DataType) -> bool:
    return pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type)


def is_scalar_feed(depth: int, inner_shape: Sequence[Optional[int]]) -> bool:
    """Whether a scalar column (`depth` 0) feeds `inner_shape`, e.g. Keras' Input(shape=(1,))."""
    return depth == 0 and len(inner_shape) > 0 and all(d == 1 for d in inner_shape)


def check_range(values: np.ndarray, target: np.dtype, what: str, per_row: int = 1) -> None:
    """Raise TensorError when integer `values` (`per_row` of them a row) do not fit integer dtype
    `target`: never a silent wrap."""
    target = np.dtype(target)
    if values.dtype.kind not in "iu" or target.kind not in "iu" or np.can_cast(values.dtype, target) or not values.size:
        return
    limits = np.iinfo(target)
    low, high = values.min(), values.max()
    if low < limits.min or high > limits.max:
        bad = low if low < limits.min else high
        raise TensorError(f"{what}: value {int(bad)} does not fit the model input's {target} "
                          f"(range {limits.min}..{limits.max}); filter or clip the column, or feed a model "
                          f"with a wider integer input",
                          row=int(np.flatnonzero(values.reshape(-1) == bad)[0]) // per_row)


def is_binary_type(arrow_type: pa.DataType) -> bool:
    return pa.types.is_binary(arrow_type) or pa.types.is_large_binary(arrow_type)


def list_depth(arrow_type: pa.DataType) -> int:
    """How many list levels wrap the values of `arrow_type`."""
    depth = 0
    while is_list_type(arrow_type):
        depth, arrow_type = depth + 1, arrow_type.value_type
    return depth


def is_flat_feed(depth: int, inner_shape: Sequence[Optional[int]]) -> bool:
    """Whether a column of `depth` list levels feeds `inner_shape` as flat values to reshape."""
    return depth == 1 and len(inner_shape) > 1 and all(d is not None for d in inner_shape)


def _first_null(array: pa.Array) -> int:
    validity = np.asarray(array.is_null().to_numpy(zero_copy_only=False))
    return int(np.argmax(validity))


def column_to_tensor(array, name: str, dtype: np.dtype, inner_shape: Sequence[Optional[int]] = ()) -> np.ndarray:
    """Turn an Arrow column into an array of shape (rows, *inner_shape) and type `dtype`.

    `inner_shape` may hold None for dimensions the model leaves free; known ones are checked.
    """
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if is_binary_type(array.type) and np.dtype(dtype).kind != "O":
        return _binary_to_tensor(array, name, np.dtype(dtype), tuple(inner_shape))
    depth = list_depth(array.type)
    if is_scalar_feed(depth, inner_shape):
        return column_to_tensor(array, name, dtype, ()).reshape((len(array), *inner_shape))
    if is_flat_feed(depth, inner_shape):
        flat = column_to_tensor(array, name, dtype, (int(np.prod(inner_shape)),))
        return flat.reshape((len(array), *inner_shape))
    if depth != len(inner_shape):
        raise TensorError(f"column '{name}': rows are {depth}-d but the model expects "
                          f"{len(inner_shape)}-d tensors of shape {tuple(inner_shape)}")
    rows = len(array)
    shape = [rows]
    level = array
    while is_list_type(level.type):
        if level.null_count:
            raise TensorError(f"column '{name}': a row is null (at nesting level {len(shape)}); drop or fill nulls "
                              f"before scoring, e.g. df.na.drop(subset=['{name}'])",
                              row=_first_null(level) // int(np.prod(shape[1:])))
        level_index = len(shape) - 1
        expected = inner_shape[level_index]
        if pa.types.is_fixed_size_list(level.type):
            length = level.type.list_size
        else:
            lengths = np.diff(np.asarray(level.offsets))
            length = int(lengths[0]) if len(lengths) else (expected or 0)
            ragged = np.flatnonzero(lengths != length)
            if len(ragged):
                first = int(ragged[0])
                raise TensorError(
                    f"column '{name}': rows have different lengths at nesting level {level_index + 1} "
                    f"({length} and {int(lengths[first])}); every row must hold a tensor of the same shape -- "
                    f"pad or filter the ragged rows", row=first // int(np.prod(shape[1:])))
        if expected is not None and length != expected:
            raise TensorError(f"column '{name}': rows hold {length} values at nesting level {level_index + 1} "
                              f"but the model expects {expected} (shape {tuple(inner_shape)} per row)", row=0)
        shape.append(length)
        level = level.flatten()
    if level.null_count:
        raise TensorError(f"column '{name}': a row holds a null value; drop or fill nulls before scoring",
                          row=_first_null(level) // int(np.prod(shape[1:])))
    return _values(level, name, np.dtype(dtype), int(np.prod(shape[1:]))).reshape(shape)


def _values(level: pa.Array, name: str, dtype: np.dtype, per_row: int) -> np.ndarray:
    """The flat leaf values of a column as `dtype`: numbers checked for lossy casts and overflow,
    strings and bytes as an object array (what tf.convert_to_tensor takes for tf.string)."""
    textual = is_string_type(level.type) or is_binary_type(level.type)
    wants_text = dtype.kind == "O"
    if wants_text or textual:
        if not (wants_text and textual):
            want = "a string column" if wants_text else "a numeric column"
            raise TensorError(f"column '{name}': values of type {level.type} cannot feed a "
                              f"{STRING if wants_text else dtype} model input; it needs {want}")
        return level.to_numpy(zero_copy_only=False)
    if not (pa.types.is_integer(level.type) or pa.types.is_floating(level.type) or pa.types.is_boolean(level.type)):
        raise TensorError(f"column '{name}': values of type {level.type} cannot feed a {dtype} tensor")
    values = level.to_numpy(zero_copy_only=False)
    check_cast(values.dtype, dtype, f"column '{name}'")
    check_range(values, dtype, f"column '{name}'", per_row)
    return values.astype(dtype, copy=False)


def _binary_to_tensor(array: pa.Array, name: str, dtype: np.dtype, inner_shape: tuple) -> np.ndarray:
    """Raw-bytes rows -> a zero-copy array of shape (rows, *inner_shape)."""
    if any(d is None for d in inner_shape):
        raise TensorError(f"column '{name}' holds raw tensor bytes, which need a model input with fixed "
                          f"dimensions, but the input's shape is {inner_shape}; use an array column instead")
    if array.null_count:
        raise TensorError(f"column '{name}': a row is null; drop or fill nulls before scoring", row=_first_null(array))
    expected = int(np.prod(inner_shape)) * dtype.itemsize
    offset_type = np.int64 if pa.types.is_large_binary(array.type) else np.int32
    offsets = np.frombuffer(array.buffers()[1], offset_type)[array.offset:array.offset + len(array) + 1]
    lengths = np.diff(offsets)
    wrong = np.flatnonzero(lengths != expected)
    if len(wrong):
        first = int(wrong[0])
        raise TensorError(f"column '{name}': a row holds {int(lengths[first])} bytes but a {dtype} tensor of "
                          f"shape {inner_shape} takes {expected}; write rows with ndarray.astype('{dtype}').tobytes()",
                          row=first)
    data = array.buffers()[2]
    rows = len(array)
    if rows == 0:
        return np.zeros((0, *inner_shape), dtype)
    return np.frombuffer(data, dtype=dtype, count=rows * expected // dtype.itemsize,
                         offset=int(offsets[0])).reshape((rows, *inner_shape))


def tensor_to_binary_column(values: np.ndarray) -> pa.Array:
    """Turn an array of shape (rows, ...) into a binary column of each row's raw bytes (no copy)."""
    values = np.ascontiguousarray(values)
    width = values.itemsize * int(np.prod(values.shape[1:]))
    offsets = pa.array(np.arange(len(values) + 1, dtype=np.int32) * width)
    return pa.BinaryArray.from_buffers(pa.binary(), len(values), [None, offsets.buffers()[1], pa.py_buffer(values)])


def tensor_to_column(values: np.ndarray) -> pa.Array:
    """Turn an array of shape (rows, d1, d2, ...) into a column of nested lists (rows long)."""
    values = np.ascontiguousarray(values)
    column = pa.array(values.reshape(-1))
    for axis in range(values.ndim - 1, 0, -1):
        parents = int(np.prod(values.shape[:axis]))
        offsets = np.arange(parents + 1, dtype=np.int32) * values.shape[axis]
        column = pa.ListArray.from_arrays(pa.array(offsets), column)
    return column
