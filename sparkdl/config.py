"""Validated, frozen option sets. Built on the driver; bad values raise ConfigError at once."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional, Tuple

from .errors import ConfigError

Pairs = Tuple[Tuple[str, str], ...]


def parse_mapping(value, what: str) -> Optional[Pairs]:
    """Turn a dict or a "name=col,name2=col2" string into sorted (name, column) pairs.

    `what` names the option in error messages (e.g. "inputs").
    """
    if value is None:
        return None
    if isinstance(value, str):
        items = []
        for part in filter(None, (p.strip() for p in value.split(","))):
            name, sep, column = part.partition("=")
            if not sep or not name.strip() or not column.strip():
                raise ConfigError(
                    f"{what}: cannot read {part!r} in {value!r}; write it as name=column[,name=column...]"
                )
            items.append((name.strip(), column.strip()))
        value = dict(items)
    if not isinstance(value, Mapping) or not value:
        raise ConfigError(
            f"{what} must be a non-empty dict of model tensor name -> column name, got {value!r}"
        )
    for name, column in value.items():
        if not isinstance(name, str) or not isinstance(column, str) or not name or not column:
            raise ConfigError(f"{what}: names and columns must be non-empty strings, got {name!r}: {column!r}")
    reject_repeated_columns(list(value.values()), what)
    return tuple(sorted(value.items()))


def reject_repeated_columns(columns: list, what: str) -> None:
    """Raise ConfigError naming the columns that appear more than once in `columns`."""
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    if duplicated:
        raise ConfigError(f"{what}: each column may appear once, but {duplicated} appear more than once")


def positive_int(value, what: str) -> int:
    """Return `value` if it is an int > 0, else raise ConfigError naming `what`."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{what} must be a positive integer, got {value!r}")
    return value


@dataclass(frozen=True)
class PredictConfig:
    """Options of `sparkdl.predict` and friends.

    inputs:  model input name -> DataFrame column (None: match by name / the single tensor column)
    outputs: model output name -> new column (None: `prediction`, or one column per output)
    batch_size: rows per model call on the executors; None lets each Python worker time its first
        calls and keep the fastest size for the model and device (see sparkdl.tf.call_size)
    """

    inputs: Optional[Pairs] = None
    outputs: Optional[Pairs] = None
    batch_size: Optional[int] = None

    def __post_init__(self):
        object.__setattr__(self, "inputs", parse_mapping(self.inputs, "inputs"))
        object.__setattr__(self, "outputs", parse_mapping(self.outputs, "outputs"))
        if self.batch_size is not None:
            positive_int(self.batch_size, "batch_size")
