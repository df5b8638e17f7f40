"""One standalone Spark cluster (a Master and two single-core Workers) for the cluster tests of this package.

Starting a cluster costs JVM start-ups and the Workers' registration; the tests that need plain 1-core
Workers share this one (each as its own application, which the Master gives fresh executors), and it is
stopped after the package's last test, pass or fail. Tests that need other Worker settings (GPU
resources) still start their own with sparkproc.standalone_cluster.
"""
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.sparkproc import standalone_cluster


@dataclass(frozen=True)
class Cluster:
    """`url` (spark://...) and `work_dir`: the Workers' directories are work_dir/work<i>/app-*/<executor>."""

    url: str
    work_dir: Path

    def apps(self) -> set:
        """The application directories the Workers hold now (each app's executors run in app-*/<id>)."""
        return set(self.work_dir.glob("work*/app-*"))


@pytest.fixture(scope="package")
def shared_cluster(tmp_path_factory):
    """A running 2-Worker cluster, 1 core and 2g each; every daemon is stopped when the package ends."""
    work_dir = tmp_path_factory.mktemp("cluster")
    with standalone_cluster(work_dir, workers=2, cores=1) as url:
        yield Cluster(url=url, work_dir=work_dir)
