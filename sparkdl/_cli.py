"""Shared plumbing for the spark-submit jobs in jobs/ (driver side).

A job parses its flags, calls one library function, prints a one-line JSON summary on stdout and
exits 0. A SparkDLError (bad input), also one raised on an executor, prints one line
`ErrorType: message` on stderr and exits 2; anything unexpected exits 1 with the traceback.

Without a retry count in the master (`local`, `local[N]`, `local[*]`, also spark-submit's default)
Spark's local mode never retries a failed task; the jobs run such a master as `local[N,4]`, so a
crashed Python worker costs a task attempt, not the job. `local[N,1]` keeps fail-fast.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import traceback
from contextlib import contextmanager
from typing import Optional

from . import fs
from .errors import ConfigError, SparkDLError, StorageError, raised_on_executor
from .runtime.session import is_connect
from .runtime.worker import LOG_FORMAT, quiet_tensorflow_logs

quiet_tensorflow_logs()  # before anything (a --model-fn, the model's signature) imports TensorFlow

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
LOCAL_TASK_ATTEMPTS = 4
_LOCAL_WITHOUT_RETRIES = re.compile(r"local(?:\[(\*|\d+)\])?")
INPUT_FORMATS = ("parquet", "orc", "csv", "json")
OUTPUT_FORMATS = ("parquet", "orc", "json")


def positive(text: str) -> int:
    """argparse type: an integer > 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def column_list(text: str) -> list:
    """argparse type: comma-separated column names, at least one."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected column names like id,ts, got {text!r}")
    return names


def add_loading_flags(parser, signature: bool = True) -> None:
    """--import MODULE (repeatable) and --signature KEY: how a job loads its model (runtime.load_options)."""
    parser.add_argument("--import", dest="imports", action="append", metavar="MODULE",
                        help="import MODULE on the driver and every executor before loading the model (custom "
                             "Keras layers shipped with --py-files); repeatable")
    if signature:
        parser.add_argument("--signature", help="SavedModel signature key to score (default serving_default)")


def master_with_retries(master: Optional[str]) -> Optional[str]:
    """`local[N,4]` for a local master that never retries a task (`local`, `local[N]`, `local[*]`), else None."""
    match = _LOCAL_WITHOUT_RETRIES.fullmatch(master or "local[*]")
    return f"local[{match.group(1) or 1},{LOCAL_TASK_ATTEMPTS}]" if match else None


def _builder(app_name: str):
    """A SparkSession builder; a local master without retries (see the module docstring) gets them."""
    from pyspark import SparkConf, SparkContext
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(app_name)
    if SparkContext._active_spark_context is not None or os.environ.get("SPARK_REMOTE"):
        return builder
    SparkContext._ensure_initialized()  # the JVM spark-submit started, holding its --master
    master = SparkConf().get("spark.master", None)
    retrying = master_with_retries(master)
    if retrying:
        logging.getLogger(__name__).info("master %s retries no failed task; running %s", master, retrying)
        builder = builder.master(retrying)
    return builder


def session(app_name: str):
    """The SparkSession spark-submit configured (master, conf), with quiet logs and local task retries."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, stream=sys.stderr)
    spark = _builder(app_name).getOrCreate()
    if not is_connect(spark):  # Spark Connect (a Databricks wheel task on serverless) has no SparkContext
        spark.sparkContext.setLogLevel("WARN")
    logging.getLogger("py4j").setLevel(logging.WARNING)
    return spark


def read_table(spark, path: str, fmt: str):
    """Read an input table, failing clearly when the path does not exist."""
    if not fs.exists(path, spark):
        raise StorageError(f"--input {path!r} does not exist; check the path and its scheme (file:, hdfs:, s3a:)")
    reader = spark.read.format(fmt)
    if fmt == "csv":
        reader = reader.option("header", "true").option("inferSchema", "true")
    return reader.load(path)


def claim_output(spark, path: str, overwrite: bool, source: str) -> None:
    """Before any work: `path` must be apart from the input `source`, new unless `overwrite`, and writable."""
    output, read = fs.qualify(path, spark), fs.qualify(source, spark)
    if output == read or output.startswith(read + "/") or read.startswith(output + "/"):
        raise ConfigError(f"--output {path!r} and --input {source!r} are the same location or one holds the other "
                          f"({output} vs {read}); write the output to a path outside the input")
    if fs.exists(path, spark) and not overwrite:
        raise StorageError(f"--output {path!r} already exists; choose a new path or pass --overwrite")
    fs.check_writable(fs.sibling(path, "staging"), "the directory of --output", spark)


@contextmanager
def staged_output(spark, path: str):
    """Yield a staging path beside `path`; when the block succeeds, it replaces `path` (commit by
    rename), and when it fails, it is deleted: `path` holds the old output or the whole new one."""
    staging = fs.sibling(path, "staging")
    try:
        yield staging
        fs.replace(staging, path, spark)
    finally:
        fs.delete(staging, spark)  # nothing is left there after a commit; a partial write after a failure


def run(main, argv=None) -> int:
    """Run `main(argv)` (which returns a summary dict) and turn its outcome into an exit code."""
    try:
        summary = main(argv)
    except Exception as error:  # a job must never die silently: say what happened
        known = error if isinstance(error, SparkDLError) else raised_on_executor(error)
        if known is None:
            traceback.print_exc()
            return EXIT_FAILED
        print(f"{type(known).__name__}: {' '.join(str(known).split())}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(json.dumps(summary, sort_keys=True))
    return EXIT_OK


def console_entry(main):
    """The console-script entry point of a job: `run(main)` on the command line's arguments, then exit."""

    def console_main(argv=None):
        from .jobs import stderr_apart_from_stdout

        stderr_apart_from_stdout()  # spark-submit: stdout is the JSON summary only
        raise SystemExit(run(main, argv))

    return console_main
