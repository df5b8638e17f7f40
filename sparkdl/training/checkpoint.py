"""Driver side: training checkpoints on any Hadoop path, written atomically.

A checkpoint is a directory `ckpt-<round>` holding `state.npz` (model weights, optimizer
variables) and `state.json` (epoch, round in epoch, global round, training row count, history,
and the run's settings that resume.py checks). It is written under a temporary name and renamed
into place, so a reader never sees half of one; the newest complete `ckpt-*` is the one to
resume from. The last `keep` checkpoints are kept. A write that fails deletes its `_tmp-ckpt-*`
copy, and a run deletes those a killed run left (`discard_partial`), so no partial output remains.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
import uuid
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .. import fs
from ..errors import SparkDLError, StorageError
from ..fs_backends import java_message

log = logging.getLogger(__name__)
PREFIX = "ckpt-"
TEMPORARY = f"_tmp-{PREFIX}"  # a checkpoint being written; never read


@dataclass
class Checkpoint:
    """The state a run resumes from."""

    weights: np.ndarray
    optimizer: list
    state: dict  # epoch, round_in_epoch, global_round, rows, history, settings
    uri: Optional[str] = None  # where it was read from


def _name(global_round: int) -> str:
    return f"{PREFIX}{global_round:09d}"


def save(directory: str, checkpoint: Checkpoint, spark, keep: int = 3) -> str:
    """Write `checkpoint` under `directory` atomically; return its URI.

    Staged as `_tmp-ckpt-*` and renamed into place; when any step fails the staged copy is deleted
    and (for a storage failure) a StorageError names the directory and the fix.
    """
    name = _name(checkpoint.state["global_round"])
    target = fs.join(directory, name)
    temporary = fs.join(directory, f"_tmp-{name}-{uuid.uuid4().hex[:8]}")  # starts with TEMPORARY
    try:
        with tempfile.TemporaryDirectory(prefix="sparkdl-ckpt-") as local:
            fs.upload(_write_local(local, name, checkpoint), temporary, spark)
        fs.replace(temporary, target, spark)  # an older copy of this round is removed only after
    except BaseException as error:
        _discard(temporary, spark)
        if isinstance(error, StorageError) or (isinstance(error, Exception) and not isinstance(error, SparkDLError)):
            reason = " ".join(java_message(error).split())[:300]
            raise StorageError(f"cannot write checkpoint {target!r}: {type(error).__name__}: {reason}; free space "
                               f"or fix the permissions of checkpoint_dir {directory!r} (or choose another one), "
                               f"then rerun with the same checkpoint_dir to resume from the last checkpoint") from None
        raise
    for old in [n for n in fs.listdir(directory, spark) if n.startswith(PREFIX)][:-keep]:
        fs.delete(fs.join(directory, old), spark)
    return target


def _write_local(local: str, name: str, checkpoint: Checkpoint) -> str:
    """The checkpoint's files in local directory `local`/`name`; that directory's path."""
    staged = os.path.join(local, name)
    os.makedirs(staged)
    np.savez(os.path.join(staged, "state.npz"), weights=checkpoint.weights,
             **{f"optimizer_{i}": value for i, value in enumerate(checkpoint.optimizer)})
    with open(os.path.join(staged, "state.json"), "w") as handle:
        json.dump(checkpoint.state, handle)
    return staged


def _discard(uri: str, spark) -> None:
    """Delete a partial checkpoint copy; a failure to do so is logged, not raised over the first error."""
    try:
        fs.delete(uri, spark)
    except Exception as error:  # the file system that failed the write may fail this too
        log.warning("could not delete the partial checkpoint %s (%s); delete it by hand", uri, error)


def discard_partial(directory: Optional[str], spark) -> list:
    """Delete the `_tmp-ckpt-*` copies a failed or killed run left in `directory`; their names."""
    if not directory:
        return []
    names = [n for n in fs.listdir(directory, spark) if n.startswith(TEMPORARY)]
    for name in names:
        _discard(fs.join(directory, name), spark)
    if names:
        log.info("deleted %d partial checkpoint(s) in %s: %s", len(names), directory, ", ".join(names))
    return names


def latest(directory: Optional[str], spark) -> Optional[str]:
    """URI of the newest complete checkpoint under `directory`, or None."""
    if not directory:
        return None
    names = [n for n in fs.listdir(directory, spark) if n.startswith(PREFIX)]
    return fs.join(directory, names[-1]) if names else None


def load(uri: str, spark) -> Checkpoint:
    """Read the checkpoint at `uri`."""
    local = fs.localize(uri, spark)
    with np.load(os.path.join(local, "state.npz")) as data:
        weights = data["weights"]
        count = len([k for k in data.files if k.startswith("optimizer_")])
        optimizer = [data[f"optimizer_{i}"] for i in range(count)]
    with open(os.path.join(local, "state.json")) as handle:
        state = json.load(handle)
    return Checkpoint(weights=weights, optimizer=optimizer, state=state, uri=uri)
