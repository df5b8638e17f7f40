"""File formats for `score_files`: loading options, schemas, Arrow batch readers and writers (pyarrow only).

Inputs: Parquet (by row group), ORC (by stripe), CSV, JSON lines and Arrow IPC (whole files).
Outputs: Parquet, ORC. Readers yield record batches of the projected columns, conformed to the
schema the driver bound the model to, in batches capped in rows and in bytes.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator, Optional, Tuple

import pyarrow as pa
import pyarrow.parquet as pq

from ..config import positive_int
from ..errors import ConfigError, SchemaError, StorageError
from ..tensors import is_list_type

INPUT_FORMATS = ("parquet", "orc", "csv", "json", "arrow")
OUTPUT_FORMATS = ("parquet", "orc")
_ALIASES = {"ipc": "arrow", "feather": "arrow", "jsonl": "json"}
MAX_BATCH_ROWS = 65536
BATCH_BYTES = 32 << 20   # Arrow bytes per batch read: bounds a worker's memory with wide rows
SPLIT_BYTES = 128 << 20  # most bytes per task, as Spark's spark.sql.files.maxPartitionBytes
PREFETCH = 3             # batches read ahead of the model
READ_BUFFER = 8 << 20    # Parquet is read through a buffer of this size, page by page
_CSV_OPTIONS = {"sep": "delimiter", "delimiter": "delimiter", "header": "header", "quote": "quote"}
_TUNING = ("prefetch", "batch_bytes", "split_bytes")


def _flag(value, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "false"):
        return str(value).lower() == "true"
    raise ConfigError(f"option {name} must be true or false, got {value!r}")


@dataclass(frozen=True)
class ReadOptions:
    """How tasks read: the format, its options, batch caps and read-ahead (`**options` of score_files)."""

    format: str
    prefetch: int = PREFETCH
    batch_bytes: int = BATCH_BYTES
    split_bytes: int = SPLIT_BYTES
    csv: Tuple[Tuple[str, object], ...] = field(default=())  # delimiter, header, quote

    @classmethod
    def of(cls, input_format: str, options: dict) -> "ReadOptions":
        """Validate `input_format` and the loading options; raise ConfigError naming what is accepted."""
        fmt = _ALIASES.get(str(input_format).lower(), str(input_format).lower())
        if fmt not in INPUT_FORMATS:
            raise ConfigError(f"input_format {input_format!r} is not one pyarrow reads here; use one of "
                              f"{list(INPUT_FORMATS)} (or predict() on a DataFrame Spark reads)")
        accepted = _TUNING + (tuple(_CSV_OPTIONS) if fmt == "csv" else ())
        unknown = sorted(set(options) - set(accepted))
        if unknown:
            raise ConfigError(f"options {unknown} are not understood for input_format={fmt!r}; accepted: "
                              f"{list(accepted)}")
        tuning = {name: options[name] for name in _TUNING if name in options}
        for name, value in tuning.items():
            if name == "prefetch" and value == 0:
                continue
            positive_int(value, name)
        csv = {_CSV_OPTIONS[k]: (_flag(v, k) if k == "header" else str(v)) for k, v in options.items()
               if k in _CSV_OPTIONS}
        return cls(fmt, csv=tuple(sorted(csv.items())), **tuning)


def check_output_format(output_format: str) -> str:
    """The output format, or ConfigError."""
    if output_format not in OUTPUT_FORMATS:
        raise ConfigError(f"output_format {output_format!r} cannot be written here; use one of {list(OUTPUT_FORMATS)}")
    return output_format


def _csv_settings(options: ReadOptions, column_names=None, schema: Optional[pa.Schema] = None):
    from pyarrow import csv

    settings = dict(options.csv)
    header = settings.get("header", True)
    names = None if header else column_names  # no header: the driver's names (_c0, _c1, ...) in order
    read = csv.ReadOptions(block_size=options.batch_bytes, column_names=names,
                           autogenerate_column_names=not header and names is None)
    parse = csv.ParseOptions(delimiter=settings.get("delimiter", ","), quote_char=settings.get("quote", '"'))
    convert = csv.ConvertOptions() if schema is None else csv.ConvertOptions(
        column_types={f.name: f.type for f in schema}, include_columns=schema.names)
    return read, parse, convert


def _open_stream(filesystem, path: str, options: ReadOptions, schema: Optional[pa.Schema], column_names=None):
    """A record batch reader over a whole CSV, JSON or Arrow IPC file."""
    if options.format == "arrow":
        source = filesystem.open_input_file(path)
        try:
            return pa.ipc.open_file(source)
        except pa.ArrowInvalid:  # the stream format (no footer)
            return pa.ipc.open_stream(filesystem.open_input_stream(path))
    stream = filesystem.open_input_stream(path)
    if options.format == "csv":
        from pyarrow import csv

        return csv.open_csv(stream, *_csv_settings(options, column_names, schema))
    from pyarrow import json

    parse = json.ParseOptions() if schema is None else json.ParseOptions(
        explicit_schema=schema, unexpected_field_behavior="ignore")
    return json.open_json(stream, json.ReadOptions(block_size=options.batch_bytes), parse)


@contextmanager
def reading(path: str, fmt: str):
    """Turn pyarrow's error on a file that is not `fmt` into a StorageError naming the file (driver)."""
    try:
        yield
    except (pa.ArrowInvalid, OSError) as error:
        raise StorageError(f"cannot read {path!r} as {fmt}: {error}. Remove other files from the input directory or "
                           f"pass the right input_format") from None


def read_schema(filesystem, files, options: ReadOptions) -> pa.Schema:
    """The schema of the input: its first (non-empty, for text formats) file's, like Spark without mergeSchema."""
    with reading(files[0].path, options.format):
        return _first_schema(filesystem, files, options)


def _first_schema(filesystem, files, options: ReadOptions) -> pa.Schema:
    if options.format == "parquet":
        return pq.read_schema(files[0].path, filesystem=filesystem).remove_metadata()
    if options.format == "orc":
        from pyarrow import orc

        return orc.ORCFile(filesystem.open_input_file(files[0].path)).schema
    first = next((f for f in files if f.size), files[0])
    schema = _open_stream(filesystem, first.path, options, None).schema
    if options.format == "csv" and not dict(options.csv).get("header", True):
        schema = pa.schema([f.with_name(f"_c{i}") for i, f in enumerate(schema)])  # Spark's names
    return schema


@dataclass(frozen=True)
class ReadSpec:
    """What each task reads: the options, the input's full schema and the columns it needs."""

    options: ReadOptions
    schema: pa.Schema
    columns: Tuple[str, ...]

    @property
    def projected(self) -> pa.Schema:
        return pa.schema([self.schema.field(name) for name in self.columns])


def _conform(batch: pa.RecordBatch, spec: ReadSpec, path: str) -> pa.RecordBatch:
    """`batch` with exactly the projected columns and types (files may differ a little), or SchemaError."""
    projected = spec.projected
    if batch.schema.equals(projected, check_metadata=False):
        return batch
    missing = [name for name in projected.names if name not in batch.schema.names]
    if missing:
        raise SchemaError(f"input file {path!r} has no column(s) {missing}; its columns are {batch.schema.names}. "
                          f"Score files with one schema, or read them with Spark and use predict()")
    return batch.select(projected.names).cast(projected)


def read_piece(filesystem, path: str, parts, spec: ReadSpec, batch_rows: int) -> Iterator[pa.RecordBatch]:
    """Record batches of one file's row groups / stripes (`parts`), or of the whole file (`parts` None)."""
    columns = list(spec.columns)
    if spec.options.format == "parquet":
        # a buffered stream, not whole column chunks: CNN bench, 600 MB row group: 330 MB peak RSS, not 910
        reader = pq.ParquetFile(filesystem.open_input_file(path), buffer_size=READ_BUFFER, pre_buffer=False)
        batches = reader.iter_batches(batch_size=batch_rows, row_groups=list(parts), columns=columns)
    elif spec.options.format == "orc":
        from pyarrow import orc

        reader = orc.ORCFile(filesystem.open_input_file(path))
        batches = (reader.read_stripe(stripe, columns=columns) for stripe in parts)
    else:
        reader = _open_stream(filesystem, path, spec.options, spec.projected, spec.schema.names)
        if isinstance(reader, pa.ipc.RecordBatchFileReader):
            batches = (reader.get_batch(index).select(columns) for index in range(reader.num_record_batches))
        else:
            batches = (batch.select(columns) for batch in reader)
    for batch in batches:
        yield _conform(batch, spec, path)


def capped(batches, max_rows: int, max_bytes: int) -> Iterator[pa.RecordBatch]:
    """Slice batches (zero-copy) to at most `max_rows` rows and about `max_bytes` bytes; drop empty ones."""
    for batch in batches:
        if batch.num_rows == 0:
            continue
        per_row = max(1, batch.nbytes // batch.num_rows)
        step = max(1, min(max_rows, max_bytes // per_row))
        for start in range(0, batch.num_rows, step):
            yield batch.slice(start, step)


class _OrcWriter:
    def __init__(self, stream, schema: pa.Schema):
        from pyarrow import orc

        self._writer, self._schema, self._written = orc.ORCWriter(stream), schema, False

    def write_batch(self, batch: pa.RecordBatch) -> None:
        self._writer.write(pa.Table.from_batches([batch]))
        self._written = True

    def close(self) -> None:
        if not self._written:
            self._writer.write(self._schema.empty_table())
        self._writer.close()


def _leaf(arrow_type: pa.DataType) -> pa.DataType:
    while is_list_type(arrow_type):
        arrow_type = arrow_type.value_type
    return arrow_type


def open_writer(stream, schema: pa.Schema, output_format: str):
    """A writer of record batches (write_batch, close) into an open output stream.

    Parquet: no dictionary encoding for floating-point columns (predictions, tensors): it never
    pays off on them and was 4/5 of the write time of the benchmark's predictions.
    """
    if output_format == "orc":
        return _OrcWriter(stream, schema)
    dictionary = [f.name for f in schema if not pa.types.is_floating(_leaf(f.type))]
    return pq.ParquetWriter(stream, schema, use_dictionary=dictionary)
