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
SASL_USER, SASL_PASSWORD = "alice", "alice-secret"  # the SASL_PLAINTEXT listener's one PLAIN user


class Bootstrap(str):
    """The PLAINTEXT listener's address; `.sasl`: the SASL_PLAINTEXT (PLAIN) listener's, same broker."""

    sasl: str


def _properties(root: Path, port: int, sasl_port: int, controller: int) -> Path:
    settings = {
        "process.roles": "broker,controller", "node.id": 1, "controller.quorum.voters": f"1@127.0.0.1:{controller}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},SASL_PLAINTEXT://127.0.0.1:{sasl_port},"
                     f"CONTROLLER://127.0.0.1:{controller}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port},SASL_PLAINTEXT://127.0.0.1:{sasl_port}",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT",
        "sasl.enabled.mechanisms": "PLAIN",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config":
            f'org.apache.kafka.common.security.plain.PlainLoginModule required user_{SASL_USER}="{SASL_PASSWORD}";',
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
    """Yield the bootstrap address of a broker running under `root` (a Bootstrap: `.sasl` is its SASL
    listener's, user SASL_USER); stopped (process group) on exit."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    port, sasl_port, controller = proc.free_port(), proc.free_port(), proc.free_port()
    config = _properties(root, port, sasl_port, controller)
    classpath = jars.classpath("kafka")
    cluster = "-"
    while cluster.startswith("-"):  # the storage tool would read a leading '-' as an option (as Kafka's Uuid avoids)
        cluster = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
    proc.run(proc.java(classpath, STORAGE_TOOL, "format", "-t", cluster, "-c", str(config)), root / "format.log")
    broker = proc.start(proc.java(classpath, KAFKA, str(config), heap="768m"), root / "kafka.log")
    try:
        proc.wait_for_port(port, broker, root / "kafka.log")
        proc.wait_for_port(sasl_port, broker, root / "kafka.log")
        bootstrap = Bootstrap(f"127.0.0.1:{port}")
        bootstrap.sasl = f"127.0.0.1:{sasl_port}"
        yield bootstrap
    finally:
        proc.stop(broker)
