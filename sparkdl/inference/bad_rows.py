"""Executor side: the `on_error="null"` policy -- score what can be scored, null the rest.

A batch whose columns all convert is scored as usual (plus an all-null `error` column). When one
does not, each row is converted on its own to find the rows that cannot become tensors (nulls,
wrong lengths, values that overflow the input's dtype, undecodable images, a shape unlike the
batch's other rows). A row whose float input holds NaN or +-inf is bad too (one vectorized
`np.isfinite` pass over the converted tensors; under "raise" such values reach the model as they
are). The good rows are scored together and the bad ones get null predictions and an `error` text
naming the column and the cause. Row counts and order never change.
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
        tensors, problems = None, row_problems(plan, columns)
    else:
        problems = non_finite_problems(plan, tensors, rows)
    good = np.array([problem is None for problem in problems], dtype=bool)
    if tensors is not None and good.all():
        return score_tensors(plan, model, device, tensors) + [pa.nulls(rows, pa.string())]
    if tensors is not None:  # only non-finite rows: score the good rows' tensors, no second conversion
        predictions = score_tensors(plan, model, device, {name: tensor[good] for name, tensor in tensors.items()})
    else:
        predictions = score_columns(plan, model, device, [column.filter(pa.array(good)) for column in columns])
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
        non_finite = non_finite_problems(plan, tensors, 1)[0]
        if non_finite is not None:
            problems.append(non_finite)
            continue
        row_shapes = {name: tensor.shape for name, tensor in tensors.items()}
        shapes = shapes or row_shapes
        problems.append(_shape_problem(plan, shapes, row_shapes))
    return problems


def non_finite_problems(plan: ScoringPlan, tensors: dict, rows: int) -> List[Optional[str]]:
    """For each of `rows` rows, None unless one of its float (non-image) inputs holds NaN or +-inf."""
    problems: List[Optional[str]] = [None] * rows
    images = dict(plan.images)  # decoded pixels * a finite scale + a finite offset: always finite
    for spec, source in plan.inputs:
        tensor = tensors[spec.name]
        if spec.name in images or not rows or not np.issubdtype(tensor.dtype, np.floating):
            continue
        values = tensor.reshape(rows, -1)
        finite = np.isfinite(values)
        for row in np.flatnonzero(~finite.all(axis=1)):
            if problems[row] is None:
                index = int(np.argmin(finite[row]))
                problems[row] = (f"column '{source}': non-finite value {values[row, index]} at position {index} of "
                                 f"the row (model input {spec.describe()}); drop or fill NaN/inf values before "
                                 f"scoring, e.g. df.na.fill or F.nanvl")
    return problems


def _shape_problem(plan: ScoringPlan, expected: dict, seen: dict) -> Optional[str]:
    """Why a row whose tensors differ in shape from the batch's first good row cannot join it."""
    for spec, source in plan.inputs:
        if seen[spec.name] != expected[spec.name]:
            return (f"column '{source}': the row's tensor has shape {seen[spec.name][1:]} but other rows have "
                    f"{expected[spec.name][1:]}; rows scored together must have the same shape")
    return None
