"""Jars for the test services, fetched once per machine by Maven into .cache/jars/<name> (git-ignored).

services/pom-<name>.xml names each set: `hdfs` (Hadoop NameNode/DataNode at pyspark's bundled Hadoop
version), `kafka` (an Apache Kafka broker, KRaft mode) and `connector` (Spark's Kafka connector for
Scala 2.13; 4.2.0, the newest Maven serves here, runs on pyspark 4.3.0).
"""
from __future__ import annotations

import fcntl
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / "jars"
# Spark's connector and what it needs beyond pyspark's own jars (pyspark already ships Hadoop and Scala).
CONNECTOR_JARS = ("spark-sql-kafka", "spark-token-provider-kafka", "kafka-clients", "commons-pool2")


def fetch(name: str) -> Path:
    """The directory holding jar set `name`, downloading it with `mvn` the first time. One process
    downloads (a file lock: `make test` runs two pytest workers) into a staging directory that is
    renamed into place, so no process ever sees half a set."""
    target = CACHE / name
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not any(target.glob("*.jar")):
            staging = CACHE / f".{name}-staging"
            shutil.rmtree(staging, ignore_errors=True)
            pom = ROOT / "services" / f"pom-{name}.xml"
            done = subprocess.run(["mvn", "-q", "-B", "-f", str(pom), "dependency:copy-dependencies",
                                   "-DincludeScope=runtime", f"-DoutputDirectory={staging}"],
                                  capture_output=True, text=True, timeout=900)
            if done.returncode != 0:
                raise RuntimeError(f"mvn could not fetch the {name} jars:\n{done.stdout[-3000:]}{done.stderr[-2000:]}")
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
    return target


def classpath(name: str) -> str:
    """A java -cp value with every jar of set `name`."""
    return str(fetch(name) / "*")


def connector_jars() -> str:
    """Spark's Kafka connector as a comma-separated `spark.jars` value."""
    jars = sorted(fetch("connector").glob("*.jar"))
    return ",".join(str(j) for j in jars if j.name.startswith(CONNECTOR_JARS))
