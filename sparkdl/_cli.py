"""Shared plumbing for the spark-submit jobs in jobs/ (driver side).

A job parses its flags, calls one library function, prints a one-line JSON summary on stdout and
exits 0. A SparkDLError (bad input) prints `ErrorType: message` on stderr and exits 2; anything
unexpected exits 1 with the traceback.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import traceback

from . import fs
from .errors import SparkDLError, StorageError
from .runtime.session import is_connect
from .runtime.worker import quiet_tensorflow_logs

quiet_tensorflow_logs()  # before anything (a --model-fn, the model's signature) imports TensorFlow

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
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


def session(app_name: str):
    """The SparkSession spark-submit configured (master, conf), with quiet logs."""
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.appName(app_name).getOrCreate()
    if not is_connect(spark):  # Spark Connect (a Databricks wheel task on serverless) has no SparkContext
        spark.sparkContext.setLogLevel("WARN")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
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


def claim_output(spark, path: str, overwrite: bool) -> None:
    """Refuse to write over existing data unless asked; remove it when asked."""
    if fs.exists(path, spark):
        if not overwrite:
            raise StorageError(f"--output {path!r} already exists; choose a new path or pass --overwrite")
        fs.delete(path, spark)


def run(main, argv=None) -> int:
    """Run `main(argv)` (which returns a summary dict) and turn its outcome into an exit code."""
    try:
        summary = main(argv)
    except SparkDLError as error:
        print(f"{type(error).__name__}: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception:  # a job must never die silently: print what happened
        traceback.print_exc()
        return EXIT_FAILED
    print(json.dumps(summary, sort_keys=True))
    return EXIT_OK


def console_entry(main):
    """The console-script entry point of a job: `run(main)` on the command line's arguments, then exit."""

    def console_main(argv=None):
        raise SystemExit(run(main, argv))

    return console_main
