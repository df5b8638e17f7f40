"""Shared fixtures: one local[2] SparkSession per test session, tiny models built in code."""
import os
import signal
import sys

import numpy as np
import pytest

os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tests import models  # noqa: E402


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


# A CI runner or timeout stops pytest with SIGTERM: as an interrupt, pytest still tears down the
# session fixtures, which stop every service the tests started (HDFS, Kafka, Spark, MLflow).
signal.signal(signal.SIGTERM, _interrupt)


@pytest.fixture(scope="session")
def spark():
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[2]").appName("sparkdl-tests")
               .config("spark.ui.enabled", "false")
               .config("spark.sql.shuffle.partitions", "2")
               .config("spark.python.worker.reuse", "true")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def hdfs(tmp_path_factory):
    """A real single-node HDFS (NameNode + DataNode, WebHDFS on) for the test session; stopped at the end."""
    from tests.services.hdfs import hdfs_cluster

    with hdfs_cluster(tmp_path_factory.mktemp("hdfs")) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def kafka(tmp_path_factory):
    """A real Apache Kafka broker (KRaft) for the test session; yields its bootstrap address."""
    from tests.services.kafka import kafka_broker

    with kafka_broker(tmp_path_factory.mktemp("kafka")) as bootstrap:
        yield bootstrap


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def mlp(model_dir):
    """(keras model, .keras path, SavedModel dir) for 8 floats -> 16 -> 3."""
    return models.save_both(models.mlp(8, 3), model_dir / "mlp")


@pytest.fixture(scope="session")
def multi_io(model_dir):
    return models.save_both(models.multi_io(), model_dir / "multi_io")


@pytest.fixture(scope="session")
def cnn(model_dir):
    return models.save_both(models.cnn((8, 8, 3), 4), model_dir / "cnn")


@pytest.fixture
def rng():
    return np.random.default_rng(7)


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory):
    """A real `mlflow server` (SQLite, local artifacts) for the session; MLFLOW_TRACKING_URI points at it."""
    mlflow = pytest.importorskip("mlflow")
    from tests.mlflow.server import mlflow_server as serve

    with serve(tmp_path_factory.mktemp("mlflow")) as url:
        previous = os.environ.get("MLFLOW_TRACKING_URI")
        os.environ["MLFLOW_TRACKING_URI"] = url
        mlflow.set_tracking_uri(url)
        yield url
        os.environ.pop("MLFLOW_TRACKING_URI") if previous is None else os.environ.update(MLFLOW_TRACKING_URI=previous)
