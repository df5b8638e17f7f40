"""Validated, frozen option sets. Built on the driver; bad values raise ConfigError at once."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional, Tuple

from .errors import ConfigError
from .images import ImageInput

Pairs = Tuple[Tuple[str, str], ...]
ON_ERROR = ("raise", "null")  # what scoring does with a row that cannot become a tensor


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
        if not isinstance(name, str) or not name or not (isinstance(column, ImageInput) and what == "inputs") and \
                not (isinstance(column, str) and column):
            raise ConfigError(f"{what}: names and columns must be non-empty strings (inputs also take "
                              f"sparkdl.image(...)), got {name!r}: {column!r}")
    reject_repeated_columns([getattr(column, "column", column) for column in value.values()], what)
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

    inputs:  model input name -> DataFrame column or sparkdl.image(column, ...) (None: match by name /
        the single tensor column)
    outputs: model output name -> new column (None: `prediction`, or one column per output)
    batch_size: rows per model call on the executors; None lets each Python worker time its first
        calls and keep the fastest size for the model and device (see sparkdl.tf.call_size)
    on_error: "raise" (a row that cannot be scored fails the job, naming it) or "null" (it gets null
        predictions and an `error` text; the other rows are scored)
    """

    inputs: Optional[Pairs] = None
    outputs: Optional[Pairs] = None
    batch_size: Optional[int] = None
    on_error: str = "raise"

    def __post_init__(self):
        object.__setattr__(self, "inputs", parse_mapping(self.inputs, "inputs"))
        object.__setattr__(self, "outputs", parse_mapping(self.outputs, "outputs"))
        if self.batch_size is not None:
            positive_int(self.batch_size, "batch_size")
        if self.on_error not in ON_ERROR:
            raise ConfigError(f"on_error must be one of {ON_ERROR}, got {self.on_error!r}")
