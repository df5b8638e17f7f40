"""Driver side: plan `score_files`' tasks as balanced splits of Parquet row groups, ORC stripes and files.

Sizes come from file metadata only (Parquet footers: the uncompressed bytes of the columns read;
ORC: file size per stripe; other formats: file size), read in parallel threads. Like Spark's
file sources, every unit also costs OPEN_COST, so many small files pack into one task. The
number of splits aims at TASKS_PER_SLOT tasks per task slot (never over SPLIT_BYTES each), is
rounded up to a multiple of the slots, and units go largest first to the least loaded split.
"""
from __future__ import annotations

import heapq
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import groupby
from typing import List, Optional, Tuple

import pyarrow.parquet as pq

from .formats import ReadSpec, reading

OPEN_COST = 4 << 20  # as spark.sql.files.openCostInBytes
TASKS_PER_SLOT = 2   # a little slack to even out a slow worker, at a few ms per extra task


@dataclass(frozen=True)
class Piece:
    """Part of one file a task reads: some row groups / stripes, or the whole file (parts None)."""

    path: str
    parts: Optional[Tuple[int, ...]]
    bytes_per_row: float  # 0: not known before reading


@dataclass(frozen=True)
class Split:
    """One task's work."""

    index: int
    pieces: Tuple[Piece, ...]
    bytes: int
    rows: Optional[int]  # None: not known before reading (text and ORC formats)


@dataclass(frozen=True)
class _Unit:
    path: str
    part: Optional[int]
    bytes: int
    rows: Optional[int]


def _parquet_units(filesystem, info, columns) -> List[_Unit]:
    meta = pq.read_metadata(info.path, filesystem=filesystem)
    units = []
    for index in range(meta.num_row_groups):
        group = meta.row_group(index)
        if group.num_rows:
            size = sum(group.column(j).total_uncompressed_size for j in range(group.num_columns)
                       if group.column(j).path_in_schema.split(".")[0] in columns)
            units.append(_Unit(info.path, index, size, group.num_rows))
    return units


def _orc_units(filesystem, info) -> List[_Unit]:
    from pyarrow import orc

    reader = orc.ORCFile(filesystem.open_input_file(info.path))
    if not reader.nrows:
        return []
    return [_Unit(info.path, stripe, info.size // reader.nstripes, None) for stripe in range(reader.nstripes)]


def _units(filesystem, info, spec: ReadSpec) -> List[_Unit]:
    with reading(info.path, spec.options.format):
        if spec.options.format == "parquet":
            return _parquet_units(filesystem, info, set(spec.columns))
        if spec.options.format == "orc":
            return _orc_units(filesystem, info)
    return [_Unit(info.path, None, info.size, None)] if info.size else []  # a 0-byte file holds no rows


def _split(index: int, units: List[_Unit]) -> Split:
    pieces = []
    units = sorted(units, key=lambda u: (u.path, -1 if u.part is None else u.part))
    for path, group in groupby(units, key=lambda u: u.path):
        group = list(group)
        rows = sum(u.rows or 0 for u in group)
        parts = None if group[0].part is None else tuple(u.part for u in group)
        pieces.append(Piece(path, parts, sum(u.bytes for u in group) / rows if rows else 0.0))
    known = all(u.rows is not None for u in units)
    return Split(index, tuple(pieces), sum(u.bytes for u in units), sum(u.rows for u in units) if known else None)


def pack(units: List[_Unit], slots: int, split_bytes: int, open_cost: int = OPEN_COST) -> List[Split]:
    """Balanced splits of `units` for `slots` parallel tasks; one empty split when there is nothing."""
    if not units:
        return [Split(0, (), 0, 0)]  # one task writes the empty table with its schema
    cost = {unit: unit.bytes + open_cost for unit in units}
    total = sum(cost.values())
    target = min(split_bytes, max(open_cost, total / (max(1, slots) * TASKS_PER_SLOT)))
    count = min(len(units), max(1, math.ceil(total / target)))
    if count > slots:
        count = min(len(units), math.ceil(count / slots) * slots)
    loads = [(0, index) for index in range(count)]
    bins: List[List[_Unit]] = [[] for _ in range(count)]
    for unit in sorted(units, key=lambda u: (-cost[u], u.path, u.part or 0)):
        load, index = heapq.heappop(loads)
        bins[index].append(unit)
        heapq.heappush(loads, (load + cost[unit], index))
    return [_split(index, chosen) for index, chosen in enumerate(bins)]


def plan_splits(filesystem, files, spec: ReadSpec, slots: int) -> List[Split]:
    """Read the files' metadata (in threads) and pack their units into balanced splits."""
    with ThreadPoolExecutor(max_workers=max(1, min(16, len(files)))) as pool:
        units = [unit for found in pool.map(lambda info: _units(filesystem, info, spec), files) for unit in found]
    return pack(units, slots, spec.options.split_bytes)
