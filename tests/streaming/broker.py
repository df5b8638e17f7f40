"""Kafka client helpers for tests and benchmarks: create a topic, produce, consume.

The broker itself is tests/services/kafka.py (Apache Kafka in KRaft mode, the `kafka` session
fixture); these helpers only talk to it through confluent-kafka.
"""
import json
import socket
import time


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def create_topic(bootstrap: str, topic: str, partitions: int = 2) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})  # keep it alive until the futures resolve
    for future in admin.create_topics([NewTopic(topic, partitions, 1)]).values():
        future.result(timeout=30)


def produce(bootstrap: str, topic: str, messages, partitions: int = 2) -> int:
    """Send (key, value) pairs round-robin over `partitions`; value dicts become JSON. Returns the count."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
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
