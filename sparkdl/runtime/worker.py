"""Executor side: set up a Python worker and place each task, for scoring, training and streaming.

`prepare_task()` runs at the start of every task: it finds where the task runs its model (the GPU
Spark assigned it, or the CPU with its core budget) and, once per Python worker, sends sparkdl's
log lines to the executor's stderr, sets TensorFlow's thread budget and GPU memory growth.

Placement is pure logic over what `TaskContext` reports, so it is tested without a GPU. Spark
hands each task its GPU addresses (`TaskContext.resources()['gpu']`, from
`spark.task.resource.gpu.amount`); those are physical CUDA ordinals, while TensorFlow numbers
the GPUs it can see. When the cluster manager sets CUDA_VISIBLE_DEVICES (YARN, Kubernetes),
the address is looked up in that list.
"""
from __future__ import annotations

import gc
import logging
import os
import sys
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

from ..errors import ConfigError

_worker_ready = False
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"  # the module says where; no "sparkdl:" prefix


def quiet_tensorflow_logs() -> None:
    """Hide TensorFlow's C++ INFO and WARNING start-up lines unless the user chose a level.

    TF reads TF_CPP_MIN_LOG_LEVEL once, when it is first imported, so this must run before that
    in each process: at the import of this module (every executor path imports it before it loads
    a model, and the driver before it reads a signature) and first thing in the jobs.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


quiet_tensorflow_logs()


@dataclass(frozen=True)
class Placement:
    """`device` is a TensorFlow device name, or None for TensorFlow's default choice (first GPU if
    any, else CPU) when Spark assigned the task no GPU; `threads` the CPU thread budget."""

    device: Optional[str]
    threads: int
    gpu: Optional[str] = None


def tensorflow_gpu_index(address: str, visible_devices: Optional[str]) -> int:
    """Map a Spark GPU address to TensorFlow's GPU index in this process."""
    if visible_devices:
        visible = [v.strip() for v in visible_devices.split(",") if v.strip()]
        if address in visible:
            return visible.index(address)
        raise ConfigError(
            f"Spark assigned GPU {address!r} to this task but CUDA_VISIBLE_DEVICES={visible_devices!r} hides it; "
            f"make the GPU discovery script report the addresses the executor can see")
    try:
        return int(address)
    except ValueError:
        raise ConfigError(f"GPU address {address!r} is not a CUDA ordinal; the discovery script must "
                          f"print indexes such as {{\"name\": \"gpu\", \"addresses\": [\"0\", \"1\"]}}") from None


def task_placement(gpu_addresses: Sequence[str], cpus: int,
                   visible_devices: Optional[str] = None) -> Placement:
    """Decide a task's device. A task given several GPUs uses its first one."""
    threads = max(1, int(cpus or 1))
    if gpu_addresses:
        address = str(gpu_addresses[0])
        return Placement(f"/GPU:{tensorflow_gpu_index(address, visible_devices)}", threads, address)
    return Placement(None, threads)


def current_placement(resources: Optional[Mapping] = None, cpus: Optional[int] = None) -> Placement:
    """Placement of the running Spark task (CPU with one thread outside a task)."""
    from pyspark import TaskContext

    context = TaskContext.get()
    if context is not None:
        resources = context.resources() if resources is None else resources
        cpus = context.cpus() if cpus is None else cpus
    gpu = (resources or {}).get("gpu")
    return task_placement(list(gpu.addresses) if gpu is not None else [], cpus or 1,
                          os.environ.get("CUDA_VISIBLE_DEVICES"))


def _prepare_worker(threads: int) -> None:
    """Once per Python worker: logging to the executor's stderr and TensorFlow's thread budget."""
    global _worker_ready
    if _worker_ready:
        return
    package = logging.getLogger("sparkdl")  # every sparkdl.* module logger reports through it
    if not package.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        package.addHandler(handler)
        package.setLevel(logging.INFO)
    from ..tf.runner import configure_threads, enable_memory_growth

    configure_threads(threads)
    enable_memory_growth()
    _worker_ready = True


def prepare_task() -> Placement:
    """Place the running task and set up its Python worker on first use; return the placement."""
    placement = current_placement()
    _prepare_worker(placement.threads)
    return placement


def exclude_from_gc() -> None:
    """Exclude everything alive now (TensorFlow, loaded models) from garbage collection.

    PySpark's daemon runs a full `gc.collect()` after every task of a reused worker; with
    TensorFlow loaded that walk costs about 0.1 s per task, which dominates short tasks (a training
    round, a streaming micro-batch). Called after each load: objects loaded later are frozen too.
    """
    gc.freeze()


def release_evicted() -> None:
    """Free models the worker cache just dropped: frozen objects are never collected, so unfreeze,
    collect (the dropped models' reference cycles go), and freeze what is still alive again."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
