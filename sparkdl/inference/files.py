"""Driver side: `score_files(spark, model, input, output)` -- Spark schedules, pyarrow reads and writes.

The driver lists the input files and plans balanced splits from their metadata (splits.py),
binds the model to the files' Arrow schema (as `predict` binds a DataFrame's), and runs one task
per split (`sc.parallelize(splits).mapPartitions`); the JVM never touches a row. Each task reads
its split with pyarrow, scores it with `predict`'s executor core, and writes one Parquet or ORC
file that the job commits Hadoop-style (commit.py).
"""
from __future__ import annotations

import logging
import time
from typing import NamedTuple

import numpy as np
import pyarrow as pa
from pyspark.sql import types as T

from .. import fs
from ..config import PredictConfig
from ..errors import ConfigError, SchemaError, StorageError, raised_on_executor
from ..fs_backends import normalized
from ..runtime.jobinfo import described
from ..runtime.load_options import load_options
from ..runtime.models import model_loads
from ..runtime.schema import spark_type
from ..runtime.session import require_classic
from ..signature import TensorSpec
from ..tensors import is_binary_type, is_list_type, list_depth
from .arrow_fs import arrow_reads, data_files, resolve, task_uri
from .commit import JobCommitter
from .file_task import FileTask, score_partition
from .formats import OUTPUT_FORMATS, ReadOptions, ReadSpec, check_output_format, read_schema
from .predict import plan_scoring
from .splits import plan_splits

log = logging.getLogger(__name__)


def _spark_field_type(arrow_type: pa.DataType) -> T.DataType:
    """The Spark type the model binding sees for an Arrow column (NullType: cannot feed a model)."""
    if is_binary_type(arrow_type):
        return T.BinaryType()
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return T.StringType()
    depth, leaf = list_depth(arrow_type), arrow_type
    while is_list_type(leaf):
        leaf = leaf.value_type
    try:
        spec = TensorSpec("column", (None,) * (depth + 1), np.dtype(leaf.to_pandas_dtype()).name)
        return spark_type(spec)
    except (NotImplementedError, TypeError, SchemaError):
        return T.NullType()


def spark_schema(schema: pa.Schema) -> T.StructType:
    """An Arrow schema as the Spark StructType that `predict`'s column binding checks."""
    return T.StructType([T.StructField(f.name, _spark_field_type(f.type), f.nullable) for f in schema])


class _Table(NamedTuple):
    """What `plan_scoring` reads of a DataFrame: its schema and session."""

    schema: T.StructType
    sparkSession: object


def _read_columns(schema: pa.Schema, plan) -> tuple:
    """The columns tasks read: the kept ones (all by default) and the model inputs."""
    kept = schema.names if plan.keep is None else list(plan.keep)
    return tuple(kept + [name for _, name in plan.inputs if name not in kept])


def _location(uri: str, spark) -> str:
    """`uri` as one canonical string (fs.qualify); a scheme only pyarrow reaches (s3:, gs:), which
    Spark's Hadoop libraries may lack, is normalized without asking a file system (driver)."""
    try:
        return fs.qualify(uri, spark)
    except StorageError:
        return normalized(uri)


def _check_apart(spark, input, output) -> None:
    """Before anything touches the output (driver): the output must not be the input, lie in it (its
    files would be read) nor hold it, however either is spelled ('..', trailing '/', file: or a
    plain path, a symlink)."""
    written, read = _location(output, spark).rstrip("/"), _location(input, spark).rstrip("/")
    if written == read or written.startswith(read + "/") or read.startswith(written + "/"):
        raise ConfigError(f"output {str(output)!r} and input {str(input)!r} are the same directory or one holds the "
                          f"other ({written} vs {read}); write the output to a path outside the input")


def _run(spark, task: FileTask, splits, committer: JobCommitter):
    """One Spark job, one task per split; commit on success, leave nothing on failure (driver).
    The job is described `sparkdl score_files: ...`; the caller's description is put back after."""
    committer.setup()
    text = f"sparkdl score_files: {task.input_uri} -> {task.job.uri} ({len(splits)} splits)"
    with described(spark, text):
        try:
            results = spark.sparkContext.parallelize(splits, len(splits)).mapPartitions(
                score_partition(task)).collect()
            return results, committer.commit(results, len(splits))
        except BaseException as error:
            committer.abort()
            if isinstance(error, Exception):
                raise raised_on_executor(error) or error
            raise


def score_files(spark, model, input, output, *, input_format="parquet", output_format="parquet", inputs=None,
                outputs=None, keep=None, batch_size=None, on_error="raise", overwrite=False, custom_objects=None,
                imports=None, signature=None, **options) -> dict:
    """Score files with a TensorFlow model: Spark schedules the tasks, pyarrow reads and writes (driver).

    input: a file or directory (file:, s3a:, gs:, hdfs: with libhdfs, dbfs:/; a path without a
        scheme lies under Spark's fs.defaultFS); names starting with '_' or '.' are skipped.
        input_format: parquet, orc, csv, json, arrow.
    output: a directory that gets one Parquet (or ORC) file per task and _SUCCESS, written only when
        the whole job succeeded; it must not exist unless overwrite=True (replaced after success).
    inputs, outputs, batch_size, keep, on_error: as `predict`; with on_error="null" the summary's
        `bad_rows` counts the rows written with null predictions and an `error` text. keep=['id']
        writes only `id` and the predictions. custom_objects / imports / signature: as `predict`.
    options: csv `sep`, `header`, `quote`; `prefetch` (batches read ahead, 0: none), `batch_bytes`
        (Arrow bytes per batch), `split_bytes` (most bytes per task).

    Returns {rows, seconds, rows_per_second, bad_rows, files, input_files, tasks, retried_tasks, model_loads,
    output}. Raises a SparkDLError before any Spark job when the output exists, the input is
    missing, or the columns do not fit the model; a TensorError from a task after the job failed.
    """
    started = time.perf_counter()
    require_classic(spark, "score_files", "use predict() on a DataFrame instead")
    input, output = fs.absolute(str(input), spark), fs.absolute(str(output), spark)  # paths under fs.defaultFS
    config = PredictConfig(inputs=inputs, outputs=outputs, batch_size=batch_size, on_error=on_error)
    read_options = ReadOptions.of(input_format, options)
    _check_apart(spark, input, output)
    input_uri = task_uri(input)  # hdfs: -> webhdfs: where only WebHDFS reaches it; what the tasks open
    committer = JobCommitter(task_uri(output), overwrite, check_output_format(output_format))
    filesystem, path = resolve(input_uri)
    files = data_files(filesystem, path, str(input))
    schema = read_schema(filesystem, files, read_options)
    plan, _ = plan_scoring(_Table(spark_schema(schema), spark), model, config, keep,
                           load_options(custom_objects, imports, signature))
    spec = ReadSpec(read_options, schema, _read_columns(schema, plan))
    splits = plan_splits(filesystem, files, spec, spark.sparkContext.defaultParallelism)
    loads = model_loads(spark)
    task = FileTask(plan, input_uri, spec, committer.job, output_format)
    results, written = _run(spark, task, splits, committer)
    seconds = time.perf_counter() - started
    rows = sum(result["rows"] for result in results)
    summary = {"rows": rows, "seconds": round(seconds, 3), "rows_per_second": round(rows / seconds, 1),
               "bad_rows": sum(result["bad_rows"] for result in results), "files": len(written),
               "input_files": len(files), "tasks": len(splits),
               "retried_tasks": sum(1 for result in results if result["attempt"] > 0),
               "input_wait_seconds": round(sum(result["input_wait_seconds"] for result in results), 3),
               "model_loads": model_loads(spark) - loads, "output": str(output)}
    log.info("score_files %s", summary)
    return summary


def choose_engine(engine: str, input: str, output_format: str, spark_steps=()) -> str:
    """'arrow' (score_files) or 'spark' (predict) for a batch job (driver).

    spark_steps: what the job asks Spark to do to the data (e.g. '--partitions 8'). 'auto' picks
    arrow when there is none, pyarrow writes `output_format` and pyarrow finds `input`.
    """
    needs_spark = list(spark_steps) + ([f"output format {output_format!r}"] if output_format not in OUTPUT_FORMATS
                                       else [])
    if engine == "arrow" and needs_spark:
        raise ConfigError(f"the arrow engine cannot apply {needs_spark}; drop them or use the spark engine")
    if engine not in ("auto", "arrow", "spark"):
        raise ConfigError(f"engine must be 'auto', 'arrow' or 'spark', got {engine!r}")
    if engine != "auto":
        return engine
    return "arrow" if not needs_spark and arrow_reads(input) else "spark"
