"""Fixtures of the Spark Connect tests: one server and one client session for the package."""
import pytest

from tests.connect.server import connect_mode, connect_server


@pytest.fixture(scope="package")
def connect_log(tmp_path_factory):
    return tmp_path_factory.mktemp("connect") / "server.log"


@pytest.fixture(scope="package")
def connect(connect_log):
    """A Spark Connect session on a local server started for these tests (stopped after them)."""
    from pyspark.sql.connect.session import SparkSession

    with connect_server(connect_log) as url, connect_mode():
        session = SparkSession.builder.remote(url).getOrCreate()
        try:
            yield session
        finally:
            session.stop()

