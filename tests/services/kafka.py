"""An Apache Kafka broker in KRaft mode (broker and controller in one process) for tests and
`make services`, from the org.apache.kafka jars, on free 127.0.0.1 ports."""
from __future__ import annotations

import base64
import contextlib
import uuid
from pathlib import Path

from . import jars, proc

KAFKA = "kafka.Kafka"
STORAGE_TOOL = "kafka.tools.StorageTool"


def _properties(root: Path, port: int, controller: int) -> Path:
    settings = {
        "process.roles": "broker,controller", "node.id": 1, "controller.quorum.voters": f"1@127.0.0.1:{controller}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}", "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name": "PLAINTEXT", "log.dirs": root / "logs", "num.partitions": 1,
        "offsets.topic.replication.factor": 1, "transaction.state.log.replication.factor": 1,
        "transaction.state.log.min.isr": 1, "share.coordinator.state.topic.replication.factor": 1,
        "share.coordinator.state.topic.min.isr": 1, "group.initial.rebalance.delay.ms": 0,
        "offsets.topic.num.partitions": 2, "auto.create.topics.enable": "false",
    }
    path = root / "server.properties"
    path.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
    return path


@contextlib.contextmanager
def kafka_broker(root: Path):
    """Yield the bootstrap address of a broker running under `root`; stopped (process group) on exit."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    port, controller = proc.free_port(), proc.free_port()
    config = _properties(root, port, controller)
    classpath = jars.classpath("kafka")
    cluster = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
    proc.run(proc.java(classpath, STORAGE_TOOL, "format", "-t", cluster, "-c", str(config)), root / "format.log")
    broker = proc.start(proc.java(classpath, KAFKA, str(config), heap="768m"), root / "kafka.log")
    try:
        proc.wait_for_port(port, broker, root / "kafka.log")
        yield f"127.0.0.1:{port}"
    finally:
        proc.stop(broker)
