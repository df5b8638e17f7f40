"""Streaming: `score_stream()` (driver), the Kafka source for Spark's Python Data Source API,
decoders with a dead-letter policy, and idempotent sinks."""
