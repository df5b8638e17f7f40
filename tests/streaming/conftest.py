import pytest

from tests.streaming.broker import tansu_broker


@pytest.fixture(scope="session")
def broker(tmp_path_factory):
    """A tansu broker for the whole test session; stopped at the end."""
    with tansu_broker(tmp_path_factory.mktemp("tansu") / "tansu.log") as bootstrap:
        yield bootstrap
