"""Executor side: the `on_error="null"` policy -- score what can be scored, null the rest.

A batch whose columns all convert is scored as usual (plus an all-null `error` column). When one
does not, each row is converted on its own to find the rows that cannot become tensors (nulls,
wrong lengths, values that overflow the input's dtype, undecodable images, a shape unlike the
batch's other rows); the good rows are scored together and the bad ones get null predictions and
an `error` text naming the column and the cause. Row counts and order never change.
"""
from __future__ import annotations

from typing import List, Optional

import numpy as np
import pyarrow as pa

from ..errors import TensorError
from .executor import ScoringPlan, input_tensors, score_columns, score_tensors


def score_or_null(plan: ScoringPlan, model, device, columns: list) -> list:
    """The prediction columns of `columns` (null where a row cannot be scored) and the error column."""
    rows = len(columns[0]) if columns else 0
    try:
        tensors = input_tensors(plan, columns)
    except TensorError:
        problems = row_problems(plan, columns)
    else:
        return score_tensors(plan, model, device, tensors) + [pa.nulls(rows, pa.string())]
    good = np.array([problem is None for problem in problems], dtype=bool)
    mask = pa.array(good)
    predictions = score_columns(plan, model, device, [column.filter(mask) for column in columns])
    positions = pa.array(np.cumsum(good) - 1, mask=~good)  # row -> its place among the good rows; null if bad
    return [column.take(positions) for column in predictions] + [pa.array(problems, pa.string())]


def row_problems(plan: ScoringPlan, columns: list) -> List[Optional[str]]:
    """For each row, None if it converts to tensors like the batch's first good row, else why not."""
    rows = len(columns[0]) if columns else 0
    problems: List[Optional[str]] = []
    shapes = None  # the first good row's tensor shapes
    for row in range(rows):
        try:
            tensors = input_tensors(plan, [column.slice(row, 1) for column in columns])
        except TensorError as error:
            problems.append(str(error))
            continue
        row_shapes = {name: tensor.shape for name, tensor in tensors.items()}
        shapes = shapes or row_shapes
        problems.append(_shape_problem(plan, shapes, row_shapes))
    return problems


def _shape_problem(plan: ScoringPlan, expected: dict, seen: dict) -> Optional[str]:
    """Why a row whose tensors differ in shape from the batch's first good row cannot join it."""
    for spec, source in plan.inputs:
        if seen[spec.name] != expected[spec.name]:
            return (f"column '{source}': the row's tensor has shape {seen[spec.name][1:]} but other rows have "
                    f"{expected[spec.name][1:]}; rows scored together must have the same shape")
    return None
