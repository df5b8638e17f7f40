"""Driver side: training checkpoints on any Hadoop path, written atomically.

A checkpoint is a directory `ckpt-<round>` holding `state.npz` (model weights, optimizer
variables) and `state.json` (epoch, round in epoch, global round, training row count, history,
and the run's settings that resume.py checks). It is written under a temporary name and renamed
into place, so a reader never sees half of one; the newest complete `ckpt-*` is the one to
resume from. The last `keep` checkpoints are kept.
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

log = logging.getLogger("sparkdl")
PREFIX = "ckpt-"


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
    """Write `checkpoint` under `directory` atomically; return its URI."""
    name = _name(checkpoint.state["global_round"])
    target = fs.join(directory, name)
    with tempfile.TemporaryDirectory(prefix="sparkdl-ckpt-") as local:
        staged = os.path.join(local, name)
        os.makedirs(staged)
        np.savez(os.path.join(staged, "state.npz"), weights=checkpoint.weights,
                 **{f"optimizer_{i}": value for i, value in enumerate(checkpoint.optimizer)})
        with open(os.path.join(staged, "state.json"), "w") as handle:
            json.dump(checkpoint.state, handle)
        temporary = fs.join(directory, f"_tmp-{name}-{uuid.uuid4().hex[:8]}")
        fs.upload(staged, temporary, spark)
    if fs.exists(target, spark):
        fs.delete(target, spark)
    fs.rename(temporary, target, spark)
    for old in [n for n in fs.listdir(directory, spark) if n.startswith(PREFIX)][:-keep]:
        fs.delete(fs.join(directory, old), spark)
    return target


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
