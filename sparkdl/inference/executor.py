"""Executor side: the function `predict` hands to `mapInArrow`, and the core it shares with the UDF.

Per task: find the placement (GPU or CPU budget), fetch the worker's cached model, then for each
Arrow record batch turn the bound columns into tensors (no per-row Python), score them in
`batch_size` slices, and append the prediction columns to the batch.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Optional, Tuple

import pyarrow as pa

from ..errors import TensorError
from ..images import ImageInput
from ..runtime.models import ModelRef, get_model
from ..runtime.worker import prepare_task
from ..signature import TensorSpec
from ..tensors import column_to_tensor, tensor_to_column

NULL_ON_ERROR, ERROR_COLUMN = "null", "error"


@dataclass(frozen=True)
class ScoringPlan:
    """Which column feeds which model input, and which output becomes which column."""

    model: ModelRef
    inputs: Tuple[Tuple[TensorSpec, str], ...]   # (model input, source column)
    outputs: Tuple[Tuple[str, str], ...]          # (model output name, new column)
    batch_size: Optional[int]  # None: measured per worker (sparkdl.tf.call_size)
    keep: Optional[Tuple[str, ...]] = None  # input columns returned with the predictions; None: all
    images: Tuple[Tuple[str, ImageInput], ...] = ()  # (model input, how its column is decoded)
    on_error: str = "raise"  # "null": unscorable rows get null predictions and an `error` text


def open_model(plan: ScoringPlan):
    """Place this task and return (model, device) for it."""
    placement = prepare_task()
    return get_model(plan.model, placement.device), placement.device


def input_tensors(plan: ScoringPlan, columns) -> dict:
    """Arrow columns (one per plan input, in plan order) -> {model input: tensor}; TensorError if one
    cannot be made (its `row` set)."""
    images = dict(plan.images)
    tensors = {}
    for (spec, source), column in zip(plan.inputs, columns):
        if spec.name in images:
            from ..tf.image_decode import images_to_tensor

            tensors[spec.name] = images_to_tensor(column, images[spec.name], spec.numpy_dtype)
        else:
            tensors[spec.name] = column_to_tensor(column, source, spec.numpy_dtype, spec.inner_shape)
    return tensors


def score_columns(plan: ScoringPlan, model, device, columns) -> list:
    """Score Arrow columns (one per plan input, in plan order); return the output columns."""
    return score_tensors(plan, model, device, input_tensors(plan, columns))


def score_tensors(plan: ScoringPlan, model, device, tensors: dict) -> list:
    """Score {model input: tensor}; return the output columns in plan order."""
    from ..tf.runner import predict_in_batches

    results = predict_in_batches(model, tensors, plan.batch_size, device)
    return [tensor_to_column(results[name]) for name, _ in plan.outputs]


def located(error: TensorError, batch: pa.RecordBatch, first_row: int, keep, place: Optional[str] = None,
            unit: str = "the partition") -> TensorError:
    """`error` with its row named: the place (default: the task's partition), the row's position in
    `unit` and its `keep` columns."""
    if place is None:
        from pyspark import TaskContext

        context = TaskContext.get()
        place = f"partition {context.partitionId() if context else '?'}"
    where = place
    if error.row is not None:
        where += f", row {first_row + error.row} of {unit}"
        values = [f"{name}={batch.column(name)[error.row].as_py()!r:.80}" for name in keep or ()]
        where += f" ({', '.join(values)})" if values else ""
    return TensorError(f"{error} [{where}]")


def score_batch(plan: ScoringPlan, model, device, batch: pa.RecordBatch) -> pa.RecordBatch:
    """One record batch in; its `plan.keep` columns (all by default) plus the predictions out."""
    kept = batch.schema.names if plan.keep is None else list(plan.keep)
    columns = [batch.column(source) for _, source in plan.inputs]
    names = kept + [column for _, column in plan.outputs]
    if plan.on_error == NULL_ON_ERROR:
        from .bad_rows import score_or_null

        predictions = score_or_null(plan, model, device, columns)
        names.append(ERROR_COLUMN)
    else:
        predictions = score_columns(plan, model, device, columns)
    return pa.RecordBatch.from_arrays([batch.column(name) for name in kept] + predictions, names=names)


def bad_row_count(scored: pa.RecordBatch) -> int:
    """Rows of a scored batch that on_error="null" could not score (0 under "raise")."""
    if ERROR_COLUMN not in scored.schema.names:
        return 0
    errors = scored.column(ERROR_COLUMN)
    return len(errors) - errors.null_count


def score_batches(plan: ScoringPlan):
    """Build the `mapInArrow` function: record batches in; their `plan.keep` columns plus predictions out."""

    def score(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        model, device = open_model(plan)
        first_row = 0
        for batch in batches:
            try:
                yield score_batch(plan, model, device, batch)
            except TensorError as error:
                raise located(error, batch, first_row, plan.keep) from None
            first_row += batch.num_rows

    return score
