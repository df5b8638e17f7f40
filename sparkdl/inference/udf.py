"""Driver side: register a model as a Spark SQL function, scored by the same executor core.

    register_udf(spark, "churn_score", "hdfs:///models/churn")
    spark.sql("SELECT id, churn_score(features) AS score FROM customers")

Arguments are the model inputs in signature order; their count is checked on the driver for
DataFrame calls and in the task for SQL calls, their types in the task (a Column has no type before
a DataFrame resolves it). A single-output model returns its tensor
(a number or nested array); a multi-output model returns a struct with one field per output.
"""
from __future__ import annotations

import functools
from typing import Optional

import pyarrow as pa
from pyspark.sql import types as T

from ..config import PredictConfig
from ..errors import ConfigError, SchemaError, reading_model
from ..runtime.load_options import load_options
from ..runtime.models import resolve_model
from ..runtime.schema import bind_outputs
from .executor import ScoringPlan, open_model, score_columns


def _arrow_udf():
    try:
        from pyspark.sql.functions import arrow_udf
    except ImportError:
        import pyspark

        raise ConfigError(f"register_udf needs pyspark >= 4.1 (Arrow UDFs); this is pyspark {pyspark.__version__}. "
                          f"Use sparkdl.predict(df, model) instead") from None
    return arrow_udf


def register_udf(spark, name: str, model, *, outputs=None, batch_size: Optional[int] = None, custom_objects=None,
                 imports=None, signature=None):
    """Register `model` as the SQL function `name`; also return it for use in DataFrame code.

    Its arguments are the model's inputs in declared order: a Keras model's `inputs`, a
    SavedModel signature's arguments as the exported function declares them. Loading options as
    in `predict`.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ConfigError(f"UDF name must be a SQL identifier like 'score_model', got {name!r}")
    config = PredictConfig(outputs=outputs, batch_size=batch_size)
    with reading_model(model):
        resolved = resolve_model(spark, model, load_options(custom_objects, imports, signature))
    named, fields = bind_outputs(T.StructType([]), resolved.signature, config.outputs)
    inputs = tuple((spec, spec.name) for spec in resolved.signature.inputs)
    plan = ScoringPlan(model=resolved.ref, inputs=inputs, outputs=named, batch_size=config.batch_size)
    single, signature = len(fields) == 1, resolved.signature
    return_type = fields[0].dataType if single else T.StructType(fields)

    def score(*columns: pa.Array) -> pa.Array:
        _check_count(name, signature, len(columns))  # SQL calls reach here unchecked
        model_, device = open_model(plan)
        results = score_columns(plan, model_, device, columns)
        if single:
            return results[0]
        return pa.StructArray.from_arrays(results, names=[column for _, column in named])

    function = _arrow_udf()(score, returnType=return_type)
    spark.udf.register(name, function)
    return _checked_arguments(function, name, resolved.signature)


def _check_count(name: str, signature, count: int) -> None:
    """Raise SchemaError unless the UDF got one argument per model input."""
    if count != len(signature.inputs):
        raise SchemaError(f"UDF {name} takes {len(signature.inputs)} argument(s), the model inputs in declared order "
                          f"{[s.describe() for s in signature.inputs]}, but got {count}")


def _checked_arguments(function, name: str, signature):
    """`function` for DataFrame code, refusing a wrong argument count on the driver. Argument types
    cannot be checked there (a Column has no type until a DataFrame resolves it): a wrong type is a
    TensorError in the task. SQL calls are checked in the task (`score`)."""

    def call(*columns):
        _check_count(name, signature, len(columns))
        return function(*columns)

    return functools.update_wrapper(call, function)
