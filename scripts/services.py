"""Run the test services locally: `python -m scripts.services` (or `make services`).

Starts a single-node HDFS (NameNode + DataNode, WebHDFS on) and an Apache Kafka broker (KRaft),
from jars Maven fetches once into .cache/jars, prints their addresses and the Spark settings to
use them, and stops both on Ctrl-C.
"""
from __future__ import annotations

import contextlib
import signal
import tempfile
import time
from pathlib import Path

from tests.services.hdfs import hdfs_cluster
from tests.services.jars import connector_jars
from tests.services.kafka import kafka_broker


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main() -> None:
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops the daemons too, like Ctrl-C
    root = Path(tempfile.mkdtemp(prefix="sparkdl-services-"))
    with contextlib.ExitStack() as stack:
        hdfs = stack.enter_context(hdfs_cluster(root / "hdfs"))
        kafka = stack.enter_context(kafka_broker(root / "kafka"))
        print(f"HDFS       {hdfs.uri}   (--conf spark.hadoop.fs.defaultFS={hdfs.uri})")
        print(f"WebHDFS    {hdfs.webhdfs}   (SPARKDL_WEBHDFS_URL={hdfs.webhdfs} for hdfs:// without Spark)")
        print(f"Kafka      {kafka}   (bootstrap servers)")
        print(f"Connector  --jars {connector_jars()}")
        print(f"Logs       {root}   (Ctrl-C stops both)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)


if __name__ == "__main__":
    main()
