"""Driver side: `predict(df, model)` -- validate, broadcast, and score through `mapInArrow`."""
from __future__ import annotations

import dataclasses
from typing import NamedTuple, Optional

import numpy as np
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from ..config import PredictConfig
from ..errors import SchemaError, reading_model
from ..images import ImageInput
from ..runtime.jobinfo import described
from ..runtime.load_options import DEFAULT, LoadOptions, load_options
from ..runtime.models import resolve_model
from ..runtime.schema import (
    bind_inputs,
    bind_keep,
    bind_outputs,
    column,
    map_in_arrow,
    unwrap_arrays,
    vectors_as_arrays,
)
from ..signature import TensorSpec
from ..tensors import is_flat_feed
from .executor import ERROR_COLUMN, NULL_ON_ERROR, ScoringPlan, score_batches


def plan_scoring(df: DataFrame, model, config: PredictConfig, keep=None, options: LoadOptions = DEFAULT):
    """Resolve the model (loaded with `options`) and bind it to `df`'s schema; return (plan, output schema)."""
    kept = bind_keep(df.schema, keep)
    kept_fields = df.schema.fields if kept is None else [df.schema[name] for name in kept]
    with reading_model(model):
        resolved = resolve_model(df.sparkSession, model, options)
    inputs = bind_inputs(df.schema, resolved.signature, config.inputs)
    outputs, fields = bind_outputs(T.StructType(kept_fields), resolved.signature, config.outputs)
    if config.on_error == NULL_ON_ERROR:
        fields = _nullable(kept_fields, fields)
    images = tuple((name, value) for name, value in config.inputs or () if isinstance(value, ImageInput))
    plan = ScoringPlan(model=resolved.ref, inputs=inputs, outputs=outputs, batch_size=config.batch_size, keep=kept,
                       images=images, on_error=config.on_error)
    return plan, T.StructType(kept_fields + fields)


def _nullable(kept_fields: list, fields: list) -> list:
    """The prediction fields for on_error="null": nullable, then the `error` text column."""
    if ERROR_COLUMN in [field.name for field in kept_fields + fields]:
        raise SchemaError(f"on_error='null' adds a column '{ERROR_COLUMN}', which the output already has; rename "
                          f"that column, leave it out with keep=[...], or use on_error='raise'")
    return [T.StructField(field.name, field.dataType, nullable=True) for field in fields] + \
        [T.StructField(ERROR_COLUMN, T.StringType(), nullable=True)]


def with_vector_arrays(df: DataFrame, plan: ScoringPlan):
    """`df` and `plan` with VectorUDT inputs fed from `vector_to_array` columns (driver)."""
    converted, inputs = vectors_as_arrays(df, plan.inputs)
    if inputs == plan.inputs:
        return df, plan
    keep = plan.keep if plan.keep is not None else tuple(df.columns)
    return converted, dataclasses.replace(plan, inputs=inputs, keep=keep)


def _sent_columns(df: DataFrame, plan: ScoringPlan) -> DataFrame:
    """`df` reduced to the columns the executors need: the kept ones and the model inputs."""
    if plan.keep is None:
        return df
    needed = list(plan.keep) + [name for _, name in plan.inputs if name not in plan.keep]
    return df.select(*[column(name) for name in needed])


class _LengthCheck(NamedTuple):
    spec: TensorSpec
    column: str
    level: int  # nesting level, 1 = the outer array
    expected: int
    seen: Column  # expression giving the first row's length
    unit: str


def _length_checks(df: DataFrame, spec: TensorSpec, name: str):
    """The fixed lengths one input column must have, as Spark expressions over its first row."""
    data_type = df.schema[name].dataType
    if isinstance(data_type, T.BinaryType):
        size = int(np.prod(spec.inner_shape)) * spec.numpy_dtype.itemsize
        yield _LengthCheck(spec, name, 1, size, F.length(column(name)), "bytes")
        return
    shape = spec.inner_shape
    depth = unwrap_arrays(data_type)[0]
    if is_flat_feed(depth, shape):
        shape = (int(np.prod(shape)),)
    shape = shape[:depth]  # a scalar column feeding (1,) has no length to check
    expression = column(name)
    for level, dim in enumerate(shape, start=1):
        if dim is not None:
            yield _LengthCheck(spec, name, level, dim, F.size(expression), "values")
        expression = expression.getItem(0)


def check_first_row(df: DataFrame, plan: ScoringPlan) -> None:
    """Compare the first row's tensor lengths with the model's fixed dimensions (one small job).

    Catches the common "64 features for a 32-feature model" mistake before the scoring job runs;
    later rows are checked on the executors as their batches arrive.
    """
    images = dict(plan.images)
    checks = [check for spec, name in plan.inputs if spec.name not in images
              for check in _length_checks(df, spec, name)]
    if not checks:
        return
    row = df.select(*[check.seen.alias(f"_len{i}") for i, check in enumerate(checks)]).head(1)
    if not row:
        return
    for check, seen in zip(checks, row[0]):
        if seen not in (check.expected, -1, None):
            raise SchemaError(f"column '{check.column}' holds {seen} {check.unit} at nesting level {check.level} in "
                              f"its first row, but model input {check.spec.describe()} needs {check.expected}; pass "
                              f"the right column with inputs={{'{check.spec.name}': '<column>'}} or reshape the data")


def predict(df: DataFrame, model, *, inputs=None, outputs=None, batch_size: Optional[int] = None,
            keep=None, on_error="raise", custom_objects=None, imports=None, signature=None) -> DataFrame:
    """Score `df` with a TensorFlow model; return `df`'s columns (or `keep`) plus the predictions.

    model: path or URI of a SavedModel directory or `.keras` / `.h5` file on any Hadoop file system
        (`file:`, `hdfs:`, `s3a:`, `dbfs:`, or a plain local path), or a keras.Model object. It is
        read and broadcast once, unpacked once per executor and loaded once per Python worker.
    inputs: {model input name: column or sparkdl.image(column, size=...)}. Default: columns named
        like the inputs, or, for a single-input model, the DataFrame's single array column.
    outputs: {model output name: new column}. Default: `prediction` for a single output,
        else one column per output, named like it.
    batch_size: rows per model call on the executors. None (default): each Python worker times its
        first calls at 32 to 4096 rows and keeps the fastest size for this model and device.
    keep: the input columns to return, e.g. ['id']. Default: all. Large tensor columns left out
        are not sent back from Python (on the CNN benchmark: 1.9x the rows/s of keeping all).
    on_error: "raise" (default): a row that cannot become a tensor (null, ragged, an undecodable
        image, an integer too large for the input) fails the job, naming its partition and `keep`
        values. "null": such rows get null predictions and an `error` column says why.
    custom_objects / imports / signature: loading options (sparkdl.runtime.load_options):
        {"Name": cls} for Keras, modules to import on the driver and every worker first, and
        the SavedModel signature key (default "serving_default").

    Raises a SparkDLError subclass on the driver, before any scoring job, when the model cannot
    be read or the columns do not fit its signature. Works on streaming DataFrames too.
    """
    config = PredictConfig(inputs=inputs, outputs=outputs, batch_size=batch_size, on_error=on_error)
    plan, schema = plan_scoring(df, model, config, keep, load_options(custom_objects, imports, signature))
    df, plan = with_vector_arrays(df, plan)
    if not df.isStreaming and plan.on_error != NULL_ON_ERROR:  # with "null", a bad first row is just a bad row
        with described(df.sparkSession, f"sparkdl predict: model {plan.model.fingerprint[:4]}… ({plan.model.kind})"):
            check_first_row(df, plan)
    return map_in_arrow(_sent_columns(df, plan), score_batches(plan), schema)
