"""Driver side: what a stream reads and how its messages become model inputs.

Sources: `KafkaSource` (Spark's `kafka` format when its connector is on the classpath, else
sparkdl's own, registered automatically) and `FileSource` (Spark's file source).

Decoding (`value_format`): "json" parses each message value as a JSON object with Spark's
`from_json`; "tensor" takes the value as the raw bytes of the model's single input (float32,
C order, as `ndarray.tobytes()` writes them). Each decoded row gets `_sparkdl_error`: null when
the row can be scored, else why not (not JSON, a field missing or null, a wrong length). Rows
with an error are not scored; they go to the dead-letter output. Model inputs bind by name to the
decoded fields only (`input_fields`): never to the Kafka key or the raw value, which reach a model
only as `value_format="tensor"`.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from .. import fs
from ..config import positive_int
from ..errors import ConfigError, SchemaError, SourceUnavailableError, StorageError
from ..runtime.schema import column
from ..runtime.session import is_connect
from ..signature import ModelSignature
from . import kafka_source
from .kafka_client import KafkaConnection
from .kafka_topics import Topics

ERROR = "_sparkdl_error"
KAFKA_COLUMNS = ("key", "topic", "partition", "offset", "timestamp")
RAW = "value"  # the original message value, kept for the dead-letter output
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KafkaSource(KafkaConnection):
    """A Kafka topic, or with `topic_pattern` (keyword) every topic whose whole name matches that
    regex (internal "__" topics never; topics created later are read too). value_format: "json" or
    "tensor"; schema: DDL of the JSON fields to keep (default: the model inputs as float arrays);
    starting_offsets: "earliest" or "latest". Keyword-only security_protocol ("SASL_PLAINTEXT",
    "SASL_SSL", "SSL"), sasl_mechanism ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"), sasl_username,
    sasl_password: how to authenticate, given to whichever connector reads (see streaming.kafka_client)."""

    topic: Optional[str] = None
    value_format: str = "json"
    schema: Optional[str] = None
    starting_offsets: str = "earliest"
    timeout_seconds: float = 10.0
    topic_pattern: Optional[str] = field(default=None, kw_only=True)

    def __post_init__(self):
        super().__post_init__()
        self.topics  # noqa: B018  (exactly one of topic / topic_pattern, a valid regex)
        if self.value_format not in ("json", "tensor"):
            raise ConfigError(f"value_format must be 'json' or 'tensor', got {self.value_format!r}")
        if self.starting_offsets not in ("earliest", "latest"):
            raise ConfigError(f"starting_offsets must be 'earliest' or 'latest', got {self.starting_offsets!r}")

    @property
    def topics(self) -> Topics:
        """The topics this source reads (ConfigError for neither or both of topic / topic_pattern)."""
        return Topics(self.topic, self.topic_pattern)


@dataclass(frozen=True)
class FileSource:
    """A directory that new Parquet or JSON files land in; `schema` (DDL) is required for JSON and for
    a Parquet directory that is still empty. max_files_per_trigger: new files per micro-batch (Spark's
    file source counts files, not records, so `max_records_per_trigger` does not apply to it)."""

    path: str
    format: str = "parquet"
    schema: Optional[str] = None
    max_files_per_trigger: Optional[int] = None

    def __post_init__(self):
        if self.max_files_per_trigger is not None:
            positive_int(self.max_files_per_trigger, "max_files_per_trigger")


def _native_kafka_available(spark) -> bool:
    """Whether Spark's own `kafka` connector is on the classpath (on Connect: the server's)."""
    if is_connect(spark):  # no JVM here: ask the server to resolve the format
        try:
            spark.readStream.format("kafka").option("kafka.bootstrap.servers", "-:9092").option("subscribe", "-") \
                .load().schema
            return True
        except Exception:  # AnalysisException [DATA_SOURCE_NOT_FOUND]
            return False
    try:
        jvm = spark.sparkContext._jvm  # --jars / spark.jars live in the context class loader, not the system one
        jvm.java.lang.Class.forName("org.apache.spark.sql.kafka010.KafkaSourceProvider", False,
                                    jvm.java.lang.Thread.currentThread().getContextClassLoader())
        return True
    except Exception:  # py4j raises a generic error for ClassNotFoundException
        return False


def _cores(spark) -> int:
    """Spark's default parallelism (0 on Spark Connect, where the client cannot see it)."""
    return 0 if is_connect(spark) else spark.sparkContext.defaultParallelism


def read_stream(spark, source, max_records_per_trigger: Optional[int]) -> DataFrame:
    """Open the streaming DataFrame for `source`; fail fast when a Kafka broker is unreachable."""
    if isinstance(source, FileSource):
        if not fs.exists(source.path, spark):
            raise StorageError(f"FileSource path {source.path!r} does not exist; create the directory (files may "
                               f"land in it later) or fix the path and its scheme")
        if max_records_per_trigger:
            raise ConfigError(f"max_records_per_trigger={max_records_per_trigger} bounds Kafka messages; Spark's "
                              f"file source counts files: use FileSource(..., max_files_per_trigger=N) "
                              f"(job: --max-files-per-trigger N) instead")
        reader = spark.readStream.format(source.format).schema(_file_schema(spark, source))
        if source.max_files_per_trigger:
            reader = reader.option("maxFilesPerTrigger", source.max_files_per_trigger)
        return reader.load(source.path)
    if not isinstance(source, KafkaSource):
        raise ConfigError(f"source must be a KafkaSource or FileSource, got {type(source).__name__}")
    return _read_kafka(spark, source, max_records_per_trigger)


def _read_kafka(spark, source: KafkaSource, max_records_per_trigger: Optional[int]) -> DataFrame:
    """Spark's `kafka` connector (subscribe / subscribePattern) when it is there, else sparkdl's source."""
    try:
        found = kafka_source.topic_partitions(source.client, source.topics, source.timeout_seconds)
    except RuntimeError as error:
        raise SourceUnavailableError(f"{error}. Check --kafka-bootstrap / bootstrap_servers and the topic") from None
    if not found:
        log.warning("no Kafka topic at %s matches topic_pattern %r yet; the stream reads them once created",
                    source.client, source.topic_pattern)
    if _native_kafka_available(spark):
        reader = (spark.readStream.format("kafka").options(**source.client.connector_options())
                  .options(**source.topics.option("subscribe", "subscribePattern"))
                  .option("startingOffsets", source.starting_offsets))
        if max_records_per_trigger:
            reader = reader.option("maxOffsetsPerTrigger", max_records_per_trigger)
        return reader.load().select("key", "value", "topic", "partition", "offset", "timestamp")
    spark.dataSource.register(kafka_source.data_source())  # ConfigError on pyspark 3.5
    reader = (spark.readStream.format(kafka_source.NAME).options(**source.client.reader_options())
              .options(**source.topics.option("topic", "topicPattern"))
              .option("startingOffsets", source.starting_offsets)
              .option("timeoutSeconds", str(source.timeout_seconds))
              .option("maxTasks", str(_cores(spark))))  # a task per core, not per partition
    if max_records_per_trigger:
        reader = reader.option("maxRecordsPerTrigger", str(max_records_per_trigger))
    return reader.load()


def _file_schema(spark, source: FileSource) -> T.StructType:
    """`source.schema`, or the schema of the Parquet files already in the directory (driver)."""
    if source.schema:
        return parse_schema(source.schema)
    if source.format != "parquet":
        raise ConfigError(f"FileSource with format {source.format!r} needs schema='...' (DDL)")
    try:
        return spark.read.parquet(source.path).schema
    except Exception:  # AnalysisException [UNABLE_TO_INFER_SCHEMA] on an empty directory
        raise ConfigError(f"FileSource path {source.path!r} holds no Parquet file to take the schema from; pass "
                          f"schema='...' (DDL, e.g. 'id long, features array<float>'; job: --schema) or start "
                          f"the stream once a file has landed") from None


def parse_schema(ddl: str) -> T.StructType:
    """The StructType of a DDL string like 'id long, features array<float>', or ConfigError."""
    try:
        return T.StructType.fromDDL(ddl)
    except Exception as error:  # Spark's parser raises its own ParseException types
        reason = " ".join(str(error).split())[:200]
        raise ConfigError(f"schema {ddl!r} is not a Spark DDL schema ({reason}); write it like "
                          f"'id long, features array<float>', with `backticks` around names with dots or "
                          f"spaces") from None


def _default_json_schema(signature: ModelSignature, inputs: Optional[dict]) -> T.StructType:
    fields = []
    for spec in signature.inputs:
        data_type: T.DataType = T.FloatType()
        for _ in spec.inner_shape:
            data_type = T.ArrayType(data_type)
        fields.append(T.StructField((inputs or {}).get(spec.name, spec.name), data_type))
    return T.StructType(fields)


def _shape_errors(schema: T.StructType, signature: ModelSignature, inputs: Optional[dict]):
    """(condition, message) pairs that make a decoded row unscorable."""
    checks = []
    for spec in signature.inputs:
        name = (inputs or {}).get(spec.name, spec.name)
        if name not in schema.names:
            continue
        field = column(name)
        checks.append((field.isNull(), F.lit(f"field '{name}' is missing or null")))
        expected = spec.inner_shape[0] if spec.inner_shape else None
        if isinstance(schema[name].dataType, T.ArrayType):
            if len(spec.inner_shape) > 1 and all(spec.inner_shape) and \
                    not isinstance(schema[name].dataType.elementType, T.ArrayType):
                expected = int(np.prod(spec.inner_shape))
            checks.append((F.exists(field, lambda e: e.isNull()), F.lit(f"field '{name}' holds null values")))
            if expected is not None:
                checks.append((F.size(field) != expected,
                               F.concat(F.lit(f"field '{name}' has "), F.size(field).cast("string"),
                                        F.lit(f" values; the model needs {expected}"))))
    return checks


def decode(stream: DataFrame, source, signature: ModelSignature, inputs: Optional[dict]) -> DataFrame:
    """Decoded model-input columns (+ Kafka metadata) and ERROR, the reason a row cannot be scored."""
    if isinstance(source, FileSource):
        checks = _shape_errors(stream.schema, signature, inputs)
        return stream.withColumn(ERROR, _first_error(checks))
    meta = [F.col(c) for c in KAFKA_COLUMNS] + [F.col(RAW)]
    if source.value_format == "tensor":
        spec = signature.inputs[0]
        if len(signature.inputs) != 1 or any(d is None for d in spec.inner_shape):
            raise ConfigError("value_format='tensor' needs a model with one input of fixed shape; use 'json'")
        size = int(np.prod(spec.inner_shape)) * spec.numpy_dtype.itemsize
        name = (inputs or {}).get(spec.name, spec.name)
        checks = [(F.col("value").isNull(), F.lit("message value is null")),
                  (F.length("value") != size, F.concat(F.lit("message value has "), F.length("value").cast("string"),
                                                       F.lit(f" bytes; a {spec.dtype} tensor of shape "
                                                             f"{spec.inner_shape} takes {size}")))]
        return stream.select(*meta, F.col(RAW).alias(name), _first_error(checks).alias(ERROR))
    schema = parse_schema(source.schema) if source.schema else _default_json_schema(signature, inputs)
    parsed = F.from_json(F.col("value").cast("string"), schema, {"mode": "PERMISSIVE"})
    text = F.col("value").cast("string")
    decoded = stream.select(*meta, text.alias("_raw"), parsed.alias("_json"))
    not_json = F.col("_json").isNull() | F.col("_raw").isNull() | \
        F.coalesce(*[F.col("_json").getField(f.name).isNotNull() for f in schema.fields],
                   F.lit(False)).eqNullSafe(False)
    checks = [(not_json, F.concat(F.lit("not a JSON object with the expected fields: "),
                                  F.coalesce(F.substring("_raw", 1, 200), F.lit("<null>"))))]
    checks += _shape_errors(schema, signature, inputs)
    fields = [F.col("_json").getField(f.name).alias(f.name) for f in schema.fields]
    return decoded.select("*", *fields).withColumn(ERROR, _first_error(checks)).drop("_raw", "_json")


def input_fields(decoded: T.StructType, source, signature: ModelSignature, inputs: Optional[dict]) -> tuple:
    """(model input, field) pairs: each input's field by name (or `inputs`) among the decoded message
    fields, never the Kafka key or raw value; SchemaError when the messages have no such field."""
    meta = (ERROR, RAW, *KAFKA_COLUMNS) if isinstance(source, KafkaSource) else (ERROR,)
    fields = [name for name in decoded.names if name not in meta]
    chosen = {**{spec.name: spec.name for spec in signature.inputs}, **(inputs or {})}
    for spec in signature.inputs:
        if chosen[spec.name] not in fields:
            field = chosen[spec.name]
            raise SchemaError(f"model input {spec.describe()} needs field '{field}', which the stream's messages do "
                              f"not have (decoded fields: {fields}); add it to the schema (schema= / --schema), "
                              f"e.g. '`{field}` array<float>', or pick a field with "
                              f"inputs={{'{spec.name}': '<field>'}}")
    return tuple(chosen.items())


def _first_error(checks):
    expression = F.lit(None).cast("string")
    for condition, message in reversed(checks):
        expression = F.when(condition, message).otherwise(expression)
    return expression
