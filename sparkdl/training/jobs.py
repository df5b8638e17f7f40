"""Driver side: the Spark jobs of a training run -- store the shards, run one round, evaluate.

Each returns one `RoundResult`, the sum of its tasks' parts. A round is one tiny job (P tasks
over the cached partitions with no row selected, each placed where its rows are; no rows
shipped); only partitions whose task found no usable shard on its executor run a second job over
their cached rows.
"""
from __future__ import annotations

import logging
import pickle

from ..errors import raised_on_executor
from ..runtime.schema import column, map_in_arrow
from .data import TrainingData
from .executor import evaluate_function, fallback_function, round_task, store_function
from .rounds import RESULT_SCHEMA, RoundResult, RoundSpec, combine

log = logging.getLogger(__name__)
AGGREGATE_DEPTH = 2  # treeAggregate depth: executors pre-sum the parts before the driver


def _collect(parts_df, spec: RoundSpec, result: RoundResult = None) -> RoundResult:
    """Add the pickled parts a `mapInArrow` job returned to `result`."""
    result = result or RoundResult.zero(spec.metrics)
    for row in parts_df.collect():
        result = combine(result, pickle.loads(row.part))
    return result


def store_shards(data: TrainingData, spec: RoundSpec) -> None:
    """One pass over the cached rows: every partition stores its shard on its executor (NaN/inf
    and changed rows fail here, as the sparkdl error the executor raised). Driver; map_in_arrow
    carries column names with dots or spaces to the executor functions unchanged."""
    try:
        _collect(map_in_arrow(data.df, store_function(spec), RESULT_SCHEMA), spec)
    except Exception as error:
        raise raised_on_executor(error) or error


def run_round(sc, data: TrainingData, spec: RoundSpec) -> RoundResult:
    """One round: the fast path over resident shards, then the fallback for the partitions without one."""
    result = data.round_tasks(sc).mapPartitionsWithIndex(round_task(spec)) \
        .treeAggregate(RoundResult.zero(spec.metrics), combine, combine, depth=AGGREGATE_DEPTH)
    missing = sorted(result.missing_partitions)
    if missing:
        log.info("round %d: partition(s) %s ran where their rows were not resident; recomputing them "
                 "from the cached rows", spec.round, missing)
        parts = map_in_arrow(data.of_partitions(missing), fallback_function(spec, missing), RESULT_SCHEMA)
        try:
            result = _collect(parts, spec, result._replace(missing_partitions=()))
        except Exception as error:
            raise raised_on_executor(error) or error
    return result


def evaluate(df, columns, spec: RoundSpec) -> RoundResult:
    """The loss sum and the metrics' summed state over every row of `df` (validation), nothing stored. Column names are
    taken literally (dots, spaces): they are quoted, and travel to the executor under aliases."""
    selected = df.select(*[column(name) for name in columns])
    return _collect(map_in_arrow(selected, evaluate_function(spec), RESULT_SCHEMA), spec)
