"""Driver side: match DataFrame columns to model inputs and name the prediction columns.

Shared by `predict`, `register_udf`, `score_stream` and `train`.

Everything here runs before any Spark job, so a wrong column, dtype or rank fails at once with a
SchemaError that names what was seen and what to change.
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql import types as T

from ..config import reject_repeated_columns
from ..errors import ConfigError, SchemaError, TensorError
from ..images import ImageInput, check_image
from ..signature import ModelSignature, TensorSpec
from ..tensors import STRING, check_cast, is_flat_feed, is_scalar_feed

_NUMPY_OF_SPARK = {
    T.BooleanType: "bool", T.ByteType: "int8", T.ShortType: "int16", T.IntegerType: "int32",
    T.LongType: "int64", T.FloatType: "float32", T.DoubleType: "float64",
}
_SPARK_OF_NUMPY = {
    "bool": T.BooleanType(), "int8": T.ByteType(), "int16": T.ShortType(), "int32": T.IntegerType(),
    "int64": T.LongType(), "float16": T.FloatType(), "float32": T.FloatType(), "float64": T.DoubleType(),
    "uint8": T.ShortType(), "uint16": T.IntegerType(), "uint32": T.LongType(),
}
DEFAULT_OUTPUT = "prediction"


def column(name: str) -> Column:
    """The column called `name`, taken literally: dots, spaces and backticks are part of the name."""
    return F.col("`" + name.replace("`", "``") + "`")


def map_in_arrow(df, function, schema: T.StructType):
    """`df.mapInArrow(function, schema)` for any column names (driver).

    pyspark looks the input columns up by unquoted name, which fails for names with dots or
    backticks; they travel under positional aliases and `function` sees its batches under their
    own names again (a zero-copy relabelling on the executor).
    """
    import pyarrow as pa

    names = df.columns

    def relabelled(batches):
        return function(pa.RecordBatch.from_arrays(batch.columns, names=names) for batch in batches)

    aliased = df.select(*[column(name).alias(f"_sparkdl_{i}") for i, name in enumerate(names)])
    return aliased.mapInArrow(relabelled, schema)


def unwrap_arrays(data_type: T.DataType) -> Tuple[int, T.DataType]:
    """Return (nesting depth, element type) of a possibly nested ArrayType."""
    depth = 0
    while isinstance(data_type, T.ArrayType):
        depth, data_type = depth + 1, data_type.elementType
    return depth, data_type


def is_vector(data_type: T.DataType) -> bool:
    """Whether `data_type` is Spark ML's VectorUDT (dense or sparse vectors)."""
    return getattr(data_type, "typeName", lambda: "")() == "vector" or \
        type(data_type).__name__ == "VectorUDT"


def _is_tensor_column(field: T.StructField) -> bool:
    if isinstance(field.dataType, T.BinaryType) or is_vector(field.dataType):
        return True
    depth, element = unwrap_arrays(field.dataType)
    return depth > 0 and type(element) in _NUMPY_OF_SPARK


def spark_type(spec: TensorSpec) -> T.DataType:
    """The Spark column type that holds one row of `spec` (nested arrays for n-d tensors)."""
    if spec.dtype not in _SPARK_OF_NUMPY:
        raise SchemaError(f"model output {spec.describe()} has a dtype Spark cannot hold; "
                          f"supported: {sorted(_SPARK_OF_NUMPY)}")
    data_type = _SPARK_OF_NUMPY[spec.dtype]
    for _ in spec.inner_shape:
        data_type = T.ArrayType(data_type, containsNull=False)
    return data_type


def check_column(spec: TensorSpec, field: T.StructField) -> None:
    """Raise SchemaError unless column `field` can feed model input `spec` (type, rank, dtype)."""
    if is_vector(field.dataType):
        _check_vector(spec, field)
        return
    if isinstance(field.dataType, T.BinaryType) and spec.dtype != STRING:
        if not spec.inner_shape or any(d is None for d in spec.inner_shape):
            raise SchemaError(f"binary column '{field.name}' (raw tensor bytes) needs a model input with fixed "
                              f"dimensions, but model input {spec.describe()} has free ones; use an array column")
        return
    depth, element = unwrap_arrays(field.dataType)
    rank = len(spec.inner_shape)
    if depth != rank and not is_flat_feed(depth, spec.inner_shape) and not is_scalar_feed(depth, spec.inner_shape):
        want = "a scalar column" if rank == 0 else f"a {rank}-level nested array column (e.g. " \
               f"{'array<' * rank}float{'>' * rank})"
        raise SchemaError(f"column '{field.name}' ({field.dataType.simpleString()}) has {depth} array level(s) but "
                          f"model input {spec.describe()} needs {want}, or a flat array of all its values; "
                          f"reshape the column or choose another with inputs={{'{spec.name}': 'column'}}")
    _check_element(spec, field, element)


def _check_element(spec: TensorSpec, field: T.StructField, element: T.DataType) -> None:
    """The column's leaf type against the input's dtype: strings for tf.string, numbers otherwise."""
    textual = isinstance(element, (T.StringType, T.BinaryType))
    if spec.dtype == STRING or textual:
        if not (spec.dtype == STRING and textual):
            want = "a string column (or array<string>)" if spec.dtype == STRING else \
                "numeric values or (nested) arrays of numbers; index strings first (e.g. StringIndexer)"
            raise SchemaError(f"column '{field.name}' has type {field.dataType.simpleString()}, which cannot feed "
                              f"model input {spec.describe()}; it needs {want}")
        return
    if type(element) not in _NUMPY_OF_SPARK:
        raise SchemaError(f"column '{field.name}' has type {field.dataType.simpleString()}, which cannot feed "
                          f"model input {spec.describe()}; use numeric values or (nested) arrays of numbers")
    try:
        check_cast(np.dtype(_NUMPY_OF_SPARK[type(element)]), spec.numpy_dtype, f"column '{field.name}'")
    except TensorError as error:
        raise SchemaError(str(error)) from None


def _check_vector(spec: TensorSpec, field: T.StructField) -> None:
    """A Spark ML vector column feeds a float input of one dimension (or all-known dimensions)."""
    shape = spec.inner_shape
    if spec.numpy_dtype.kind != "f" or not (len(shape) == 1 or is_flat_feed(1, shape)):
        raise SchemaError(f"vector column '{field.name}' can feed a float input of shape (n,) (or fixed dims), but "
                          f"model input {spec.describe()} is not one; convert it with "
                          f"pyspark.ml.functions.vector_to_array(col, dtype='float32') and reshape it")


def vectors_as_arrays(df, inputs: tuple):
    """Driver: each VectorUDT input column also as an array column (`vector_to_array`, no per-row
    Python), so executors see array<float>; return (df, inputs rebound to those columns)."""
    vectors = [(spec, name) for spec, name in inputs if is_vector(df.schema[name].dataType)]
    if not vectors:
        return df, inputs
    from pyspark.ml.functions import vector_to_array

    renamed = {}
    for i, (spec, name) in enumerate(vectors):
        dtype = "float32" if spec.numpy_dtype.itemsize <= 4 else "float64"
        renamed[name] = f"_sparkdl_vector_{i}"
        df = df.withColumn(renamed[name], vector_to_array(column(name), dtype))
    return df, tuple((spec, renamed.get(name, name)) for spec, name in inputs)


def _reject_unknown_names(pairs, known: list, what: str) -> None:
    unknown = sorted(set(dict(pairs)) - set(known))
    if unknown:
        raise SchemaError(f"{what} names {unknown}, which the model does not have; its {what} are {known}")


def bind_inputs(schema: T.StructType, signature: ModelSignature, inputs: Optional[tuple]):
    """Return ((spec, column), ...) in signature order, or raise SchemaError.

    inputs: (model input, column or ImageInput) pairs; an ImageInput binds its column."""
    fields = {f.name: f for f in schema.fields}
    specs = {s.name: s for s in signature.inputs}
    images = {name: value for name, value in inputs or () if isinstance(value, ImageInput)}
    if inputs is not None:
        _reject_unknown_names(inputs, signature.input_names(), "inputs")
        chosen = {name: getattr(value, "column", value) for name, value in inputs}
    elif len(signature.inputs) == 1 and signature.inputs[0].name not in fields:
        tensor_columns = [f.name for f in schema.fields if _is_tensor_column(f)]
        if len(tensor_columns) != 1:
            raise SchemaError(f"the model has one input {signature.inputs[0].describe()} and no column of that name; "
                              f"found {len(tensor_columns)} array columns {tensor_columns}, so pass "
                              f"inputs={{'{signature.inputs[0].name}': '<column>'}}")
        chosen = {signature.inputs[0].name: tensor_columns[0]}
    else:
        chosen = {name: name for name in specs}
    missing = [name for name in specs if name not in chosen]
    if missing:
        raise SchemaError(f"model inputs {missing} have no column; pass inputs={{'{missing[0]}': '<column>'}} "
                          f"(model: {signature.describe()})")
    bound = []
    for spec in signature.inputs:
        column = chosen[spec.name]
        if column not in fields:
            raise SchemaError(f"model input {spec.describe()} needs column '{column}', which the DataFrame does not "
                              f"have; its columns are {schema.names}. Pass inputs={{'{spec.name}': '<column>'}}")
        if spec.name in images:
            check_image(spec, fields[column], images[spec.name])
        else:
            check_column(spec, fields[column])
        bound.append((spec, column))
    return tuple(bound)


def bind_outputs(schema: T.StructType, signature: ModelSignature, outputs: Optional[tuple]):
    """Return ((output name, new column), ...) and the new StructFields, or raise SchemaError."""
    specs = {s.name: s for s in signature.outputs}
    if outputs is not None:
        _reject_unknown_names(outputs, signature.output_names(), "outputs")
        named = tuple((name, column) for name, column in outputs)
        named = tuple(sorted(named, key=lambda pair: signature.output_names().index(pair[0])))
    elif len(signature.outputs) == 1:
        named = ((signature.outputs[0].name, DEFAULT_OUTPUT),)
    else:
        named = tuple((name, name) for name in signature.output_names())
    clashes = [column for _, column in named if column in schema.names]
    if clashes:
        raise SchemaError(f"prediction column(s) {clashes} already exist in the DataFrame; choose other names "
                          f"with outputs={{'<model output>': '<new column>'}} or drop them first")
    fields = [T.StructField(column, spark_type(specs[name]), nullable=False) for name, column in named]
    return named, fields


def bind_keep(schema: T.StructType, keep) -> Optional[Tuple[str, ...]]:
    """Return the input columns to return with the predictions (None: all), or raise an error."""
    if keep is None:
        return None
    names = [keep] if isinstance(keep, str) else keep
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) and n for n in names):
        raise ConfigError(f"keep must be a list of column names, e.g. keep=['id'], got {keep!r}")
    reject_repeated_columns(list(names), "keep")
    missing = [n for n in names if n not in schema.names]
    if missing:
        raise SchemaError(f"keep names column(s) {missing}, which the DataFrame does not have; "
                          f"its columns are {schema.names}")
    return tuple(names)
