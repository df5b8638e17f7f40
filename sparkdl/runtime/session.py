"""Which Spark a driver talks to: classic (a JVM in this process) or Spark Connect, and its version.

Spark Connect (Databricks serverless and standard access mode, `SparkSession.builder.remote()`)
has no SparkContext: no broadcast variables, no accumulators, no RDDs, no JVM gateway. Scoring
and streaming work on both; what needs the classic API checks with `require_classic`.
"""
from __future__ import annotations

from typing import Optional, Tuple

from ..errors import ConfigError


def is_connect(spark) -> bool:
    """Whether `spark` (a SparkSession, or a DataFrame's session) is a Spark Connect session."""
    return type(spark).__module__.startswith("pyspark.sql.connect")


def classic_or_none(spark):
    """`spark` when it has a JVM in this process (classic), else None (no session, or Spark Connect)."""
    return None if spark is None or is_connect(spark) else spark


def require_classic(spark, feature: str, alternative: str = "") -> None:
    """Raise ConfigError when `feature` is used on a Spark Connect session."""
    if is_connect(spark):
        raise ConfigError(f"{feature} needs a classic Spark session (SparkContext, RDDs); this is a Spark Connect "
                          f"session ({type(spark).__module__}). Run it on a cluster in dedicated (single user) "
                          f"access mode or with spark-submit{'; ' + alternative if alternative else ''}")


def pyspark_version() -> Tuple[int, int]:
    """(major, minor) of the installed pyspark."""
    import pyspark

    major, minor = pyspark.__version__.split(".")[:2]
    return int(major), int(minor)


def require_pyspark(minimum: Tuple[int, int], feature: str, alternative: Optional[str] = None) -> None:
    """Raise ConfigError when the installed pyspark is older than `minimum` for `feature`."""
    if pyspark_version() < minimum:
        import pyspark

        raise ConfigError(f"{feature} needs pyspark >= {minimum[0]}.{minimum[1]}; this is pyspark "
                          f"{pyspark.__version__}. {alternative or 'Upgrade Spark'}")
