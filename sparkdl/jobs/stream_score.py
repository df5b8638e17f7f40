"""sparkdl-stream-score (or: spark-submit jobs/stream_score.py) --model URI
   (--kafka-bootstrap HOST:PORT (--input-topic T | --input-topic-pattern REGEX) | --input-path DIR)
   (--output-topic T2 | --output-path PATH) --checkpoint URI [options]

Scores a Kafka topic, or every topic whose whole name matches --input-topic-pattern (or a
directory that Parquet/JSON files land in) as it arrives. Runs until stopped: SIGTERM (or Ctrl-C)
stops the query after the current micro-batch. With --available-now it drains what is there and
exits. Logs per micro-batch: rows, dead letters, duration, rows/s, end-to-end latency p50/p99
(now - Kafka timestamp). Prints a JSON summary at the end (with model_version for an MLflow
--model: the version a models:/name@alias resolved to when the query started). A checkpoint belongs to one source and
one model: another --input-topic/--input-topic-pattern/--input-path is refused (exit 2), and so is
another --model unless --allow-model-change.
"""
import argparse
import os
import signal
import time

from sparkdl import _cli
from sparkdl.errors import ConfigError
from sparkdl.streaming.kafka_client import PROTOCOLS, KafkaClient
from sparkdl.streaming.kafka_topics import Topics


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="stream_score.py", description="Score a Kafka topic with Spark")
    parser.add_argument("--model", required=True, help="SavedModel directory or .keras file, any Hadoop URI")
    parser.add_argument("--kafka-bootstrap", help="HOST:PORT[,HOST:PORT]; needed by --input-topic, --output-topic")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--input-topic", help="Kafka topic to score")
    source.add_argument("--input-topic-pattern", metavar="REGEX",
                        help="score every Kafka topic whose whole name matches REGEX, also ones created later")
    source.add_argument("--input-path", help="directory of Parquet/JSON files to score (new files as they land)")
    parser.add_argument("--input-format", default="parquet", choices=("parquet", "json"), help="for --input-path")
    out = parser.add_mutually_exclusive_group(required=True)
    out.add_argument("--output-topic", help="Kafka topic for predictions (at-least-once)")
    out.add_argument("--output-path", help="Parquet directory for predictions (exactly-once)")
    parser.add_argument("--dead-letter-path", help="Parquet directory for unscorable messages (default: logged)")
    parser.add_argument("--checkpoint", required=True, help="checkpoint directory URI (offsets, progress)")
    parser.add_argument("--trigger", default="1 second", help="micro-batch interval, e.g. '2 seconds'")
    parser.add_argument("--max-records-per-trigger", type=_cli.positive, help="Kafka messages per micro-batch")
    parser.add_argument("--max-files-per-trigger", type=_cli.positive, help="new files per micro-batch (--input-path)")
    parser.add_argument("--value-format", default="json", choices=("json", "tensor"))
    parser.add_argument("--schema", help="DDL of the JSON fields, e.g. 'id long, features array<float>'")
    parser.add_argument("--starting-offsets", default="earliest", choices=("earliest", "latest"))
    _cli.add_loading_flags(parser)
    parser.add_argument("--kafka-security-protocol", choices=PROTOCOLS, help="e.g. SASL_SSL (default PLAINTEXT)")
    parser.add_argument("--kafka-sasl-mechanism", choices=("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"))
    parser.add_argument("--kafka-sasl-username")
    parser.add_argument("--kafka-sasl-password-env", metavar="VAR",
                        help="environment variable holding the SASL password (never a flag: ps would show it)")
    parser.add_argument("--inputs", help="model input=field pairs")
    parser.add_argument("--outputs", help="model output=column pairs")
    parser.add_argument("--batch-size", type=_cli.positive, default=None,
                        help="rows per model call (default: each worker measures the fastest)")
    parser.add_argument("--available-now", action="store_true", help="process what is there, then exit")
    parser.add_argument("--allow-model-change", action="store_true",
                        help="continue --checkpoint with another model than the one it was started with")
    return parser.parse_args(argv)


def _kafka_security(args) -> dict:
    """KafkaSource / KafkaSink security settings from the flags; the password from the environment."""
    password = None
    if args.kafka_sasl_password_env:
        password = os.environ.get(args.kafka_sasl_password_env)
        if not password:
            raise ConfigError(f"--kafka-sasl-password-env {args.kafka_sasl_password_env}: that environment "
                              f"variable is not set or empty; export it before starting the job")
    return dict(security_protocol=args.kafka_security_protocol, sasl_mechanism=args.kafka_sasl_mechanism,
                sasl_username=args.kafka_sasl_username, sasl_password=password)


def main(argv=None) -> dict:
    args = parse_args(argv)
    if (args.input_topic or args.input_topic_pattern or args.output_topic) and not args.kafka_bootstrap:
        raise ConfigError("--input-topic and --output-topic need --kafka-bootstrap HOST:PORT (the Kafka brokers), "
                          "and so does --input-topic-pattern")
    security = _kafka_security(args)
    KafkaClient(args.kafka_bootstrap or "", **security)  # a ConfigError before Spark starts
    if args.input_path is None:
        Topics(args.input_topic, args.input_topic_pattern)  # likewise for a bad --input-topic-pattern
    spark = _cli.session("sparkdl-stream-score")
    import sparkdl

    if args.input_path is None:
        source = sparkdl.KafkaSource(args.kafka_bootstrap, args.input_topic, topic_pattern=args.input_topic_pattern,
                                     value_format=args.value_format, schema=args.schema,
                                     starting_offsets=args.starting_offsets, **security)
    else:
        source = sparkdl.FileSource(args.input_path, format=args.input_format, schema=args.schema,
                                    max_files_per_trigger=args.max_files_per_trigger)
    sink = sparkdl.ParquetSink(args.output_path) if args.output_path else \
        sparkdl.KafkaSink(args.kafka_bootstrap, args.output_topic, **security)
    dead_letter = sparkdl.ParquetSink(args.dead_letter_path) if args.dead_letter_path else None
    query = sparkdl.score_stream(spark, args.model, source=source, sink=sink, dead_letter=dead_letter,
                                 checkpoint_location=args.checkpoint, inputs=args.inputs, outputs=args.outputs,
                                 trigger=args.trigger, max_records_per_trigger=args.max_records_per_trigger,
                                 available_now=args.available_now, batch_size=args.batch_size,
                                 allow_model_change=args.allow_model_change, imports=args.imports,
                                 signature=args.signature)
    stopping = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.append(True))
    started = time.time()
    while query.isActive:
        if stopping:
            while query.status["isTriggerActive"]:  # let the current micro-batch finish
                time.sleep(0.1)
            query.stop()
            break
        query.awaitTermination(0.5)
    if query.exception() is not None:
        raise RuntimeError(f"the streaming query failed: {query.exception()}")
    rows = sum(p["numInputRows"] for p in query.recentProgress)
    source = query.lastProgress["sources"][0]["description"] if query.lastProgress else None
    summary = {"batches": len(query.recentProgress), "input_rows_recent": rows, "source": source,
               "seconds": round(time.time() - started, 3), "stopped_by_signal": bool(stopping)}
    from sparkdl.runtime.mlflow_models import version_of

    version = version_of(args.model)  # models:/name@alias -> the version the query started with
    return {**summary, "model_version": version} if version else summary


console_main = _cli.console_entry(main)  # the console script; also a Databricks Python wheel task's entry point


if __name__ == "__main__":
    console_main()
