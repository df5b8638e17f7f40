"""A Spark Connect server from the pyspark wheel on a free 127.0.0.1 port, and a client session for it.

The server runs `local[2]` in its own process group and is killed as a group on exit (its Python
workers included), whatever the outcome. Its log holds the executors' lines (`sparkdl.runtime.models: loaded
model ...`), which is how the tests count model loads on Connect.
"""
import contextlib
import os
from pathlib import Path

from tests.integration.sparkproc import SPARK_HOME, free_port, spark_env
from tests.services.proc import start, stop, wait_for_port

SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"


@contextlib.contextmanager
def connect_server(log: Path):
    """Yield the server's sc:// URL; stop the server and its workers on exit."""
    port = free_port()
    command = [os.path.join(SPARK_HOME, "bin", "spark-submit"), "--class", SERVER_CLASS, "--master", "local[2]",
               "--conf", "spark.ui.enabled=false", "--conf", "spark.sql.shuffle.partitions=2",
               "--conf", "spark.connect.grpc.binding.address=127.0.0.1",
               "--conf", f"spark.connect.grpc.binding.port={port}"]
    process = start(command, log, env=spark_env())
    try:
        wait_for_port(port, process, log, timeout=180)
        yield f"sc://127.0.0.1:{port}"
    finally:
        stop(process)


@contextlib.contextmanager
def connect_mode():
    """pyspark's column functions build Spark Connect expressions only while SPARK_CONNECT_MODE_ENABLED
    is set; it is unset again afterwards, so classic sessions in the same test run are unaffected."""
    before = os.environ.get("SPARK_CONNECT_MODE_ENABLED")
    os.environ["SPARK_CONNECT_MODE_ENABLED"] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("SPARK_CONNECT_MODE_ENABLED", None)
        else:
            os.environ["SPARK_CONNECT_MODE_ENABLED"] = before
