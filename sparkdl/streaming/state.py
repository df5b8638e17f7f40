"""Driver side: a stream checkpoint belongs to one query -- one source and one model.

Spark's checkpoint holds offsets without saying what they are offsets of: a checkpoint reused for
another Kafka topic silently skips that topic's first messages. `claim_checkpoint` writes
`sparkdl-query.json` into the checkpoint (the source's identity and the model's fingerprint) when a
query starts, and refuses a restart against another source, or with another model unless the
caller allows it (`allow_model_change=True`, `--allow-model-change`).
"""
from __future__ import annotations

import json

from .. import fs
from ..errors import ConfigError
from .sources import KafkaSource

FILE = "sparkdl-query.json"


def source_identity(spark, source) -> dict:
    """What a source's offsets refer to: Kafka brokers and topic (or topic pattern), or a qualified
    directory and format."""
    if isinstance(source, KafkaSource):
        servers = sorted({s.strip().lower() for s in source.bootstrap_servers.split(",") if s.strip()})
        return {"kafka": ",".join(servers), **source.topics.option("topic", "topic_pattern")}
    return {"directory": fs.qualify(source.path, spark), "format": source.format}


def _describe(source: dict) -> str:
    if "topic_pattern" in source:
        return f"Kafka topics matching {source['topic_pattern']!r} at {source['kafka']}"
    if "kafka" in source:
        return f"Kafka topic {source['topic']!r} at {source['kafka']}"
    return f"{source['format']} files in {source['directory']}"


def claim_checkpoint(spark, checkpoint: str, source, model_uri: str, fingerprint: str,
                     allow_model_change: bool = False) -> None:
    """Check that `checkpoint` is writable and belongs to this source (and model); record them in it."""
    fs.check_writable(checkpoint, "checkpoint_location", spark)
    path = fs.join(checkpoint, FILE)
    current = {"source": source_identity(spark, source), "model": {"fingerprint": fingerprint, "uri": model_uri}}
    recorded = json.loads(fs.read_text(path, spark)) if fs.exists(path, spark) else None
    if recorded is not None and recorded["source"] != current["source"]:
        raise ConfigError(f"checkpoint_location {checkpoint!r} belongs to a query reading "
                          f"{_describe(recorded['source'])}, not {_describe(current['source'])}; its offsets "
                          f"would skip or repeat messages. Use a new checkpoint_location for this source")
    old_model = (recorded or current)["model"]
    if old_model["fingerprint"] != fingerprint and not allow_model_change:
        raise ConfigError(f"checkpoint_location {checkpoint!r} was started with model {old_model['uri']!r} "
                          f"(fingerprint {old_model['fingerprint'][:12]}), not {model_uri!r} "
                          f"(fingerprint {fingerprint[:12]}); pass allow_model_change=True (--allow-model-change) "
                          f"to score the rest of the stream with the new model, or use a new checkpoint_location")
    if recorded != current:
        fs.write_text(path, json.dumps(current, sort_keys=True), spark)
