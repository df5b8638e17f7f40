"""Executor side of `score_files`: read one split with pyarrow, score it, write it, commit the attempt.

Per task: place it and fetch the worker's cached model (`open_model`, as `predict` does); a reader
thread reads the split's pieces as Arrow batches capped in rows and bytes, a few ahead of the
model (`prefetched`); each batch is scored by the same core as `predict` (`score_columns`) and
appended to this task attempt's one output file, which is committed by rename at the end.
"""
from __future__ import annotations

import time
from contextlib import closing
from dataclasses import dataclass

import pyarrow as pa

from ..errors import TensorError
from .arrow_fs import resolve
from .commit import OutputJob, TaskAttempt
from .executor import ScoringPlan, bad_row_count, located, open_model, score_batch
from .formats import MAX_BATCH_ROWS, ReadSpec, capped, open_writer, read_piece
from .prefetch import prefetched
from .splits import Piece, Split


@dataclass(frozen=True)
class FileTask:
    """Everything a task needs, shipped in its closure (the model bytes travel by broadcast)."""

    plan: ScoringPlan
    input_uri: str
    read: ReadSpec
    job: OutputJob
    output_format: str


def _batches(task: FileTask, split: Split):
    """(piece, first row of the batch in the piece, record batch) for each capped batch of the split."""
    filesystem, _ = resolve(task.input_uri)
    options = task.read.options
    for piece in split.pieces:
        rows = MAX_BATCH_ROWS
        if piece.bytes_per_row:
            rows = int(max(1, min(MAX_BATCH_ROWS, options.batch_bytes // piece.bytes_per_row)))
        first_row = 0
        for batch in capped(read_piece(filesystem, piece.path, piece.parts, task.read, rows), rows,
                            options.batch_bytes):
            yield piece, first_row, batch
            first_row += batch.num_rows


def _scored(task: FileTask, model, device, batch: pa.RecordBatch, piece: Piece, first_row: int) -> pa.RecordBatch:
    """`score_batch`; a TensorError names the file, the row's position and its `keep` columns."""
    try:
        return score_batch(task.plan, model, device, batch)
    except TensorError as error:
        whole = piece.parts is None or piece.parts == tuple(range(len(piece.parts)))
        unit = "the file" if whole else f"its row groups / stripes {list(piece.parts)}"
        raise located(error, batch, first_row, task.plan.keep, f"file {piece.path}", unit) from None


def run_split(task: FileTask, split: Split) -> dict:
    """Score one split into one committed file; return the commit record with rows and timings."""
    started = time.perf_counter()
    model, device = open_model(task.plan)
    attempt = TaskAttempt(task.job, split.index)
    rows, bad_rows, waited, writer = 0, 0, 0.0, None
    with attempt.open() as stream, closing(prefetched(_batches(task, split), task.read.options.prefetch)) as batches:
        while True:
            asked = time.perf_counter()
            piece, first_row, batch = next(batches, (None, 0, None))
            waited += time.perf_counter() - asked
            if batch is None:
                break
            scored = _scored(task, model, device, batch, piece, first_row)
            writer = writer or open_writer(stream, scored.schema, task.output_format)
            writer.write_batch(scored)
            rows += batch.num_rows
            bad_rows += bad_row_count(scored)
        if writer is None:  # nothing to read: an empty file with the output schema
            empty = pa.RecordBatch.from_pylist([], schema=task.read.projected)
            writer = open_writer(stream, score_batch(task.plan, model, device, empty).schema, task.output_format)
        writer.close()
    record = attempt.commit(rows)
    record.update(seconds=time.perf_counter() - started, input_wait_seconds=waited, bad_rows=bad_rows)
    return record


def score_partition(task: FileTask):
    """The `mapPartitions` function: each partition holds one split; yields its commit record."""

    def run(splits):
        for split in splits:
            yield run_split(task, split)

    return run
