"""Driver side: safe resume -- the settings a checkpoint records, and the check against them.

A checkpoint records the settings that decide what a round computes and where in the data the
run stands: mode, batch_size, local_steps and partitions (average mode: they set the local
batches; a sync round is the same global batch whatever the partitions, so a resized cluster may
resume), shuffle and seed (when shuffled), features, label, loss, optimizer (its Keras config)
and the model's architecture fingerprint. Resuming with any of them changed is a ConfigError naming each one with both
values, unless resume="force" (a warning, then the run continues from the checkpoint).

The model fingerprint is the sha256 of the architecture -- the Keras config with layer names
replaced by their index, plus every weight's shape and dtype -- not of the initial weights: on
resume the weights come from the checkpoint, a rebuilt model gets new automatic layer names,
and a saved `.keras` file holds its save date, so neither the weights nor the file's bytes say
whether it is "the same model".
"""
from __future__ import annotations

import hashlib
import json
import logging
from typing import Optional

from ..errors import ConfigError
from . import checkpoint as ckpt
from .rounds import AVERAGE

log = logging.getLogger(__name__)
FORCE = "force"


def _plain(value):
    """A JSON-comparable identity of a setting: names stay names, Keras objects become their config
    (without `name`), a pickled function its name."""
    if isinstance(value, float):  # float32 settings (a learning rate variable) read as 0.05, not 0.0500000007
        return float(f"{value:.7g}")
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items() if k != "name"}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "get_config"):
        return {"class_name": type(value).__name__, "config": _plain(value.get_config())}
    if isinstance(getattr(value, "name", None), str):  # e.g. a pickled function loss: its name, not its bytes
        return f"{type(value).__name__}({value.name})"
    if callable(value):
        return f"{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', repr(value))}"
    return repr(value)


def _layer_names(model, names=None) -> dict:
    names = {} if names is None else names
    for layer in getattr(model, "layers", ()):
        names.setdefault(layer.name, f"layer-{len(names)}")
        _layer_names(layer, names)
    return names


def model_fingerprint(model) -> str:
    """sha256 of the model's architecture (config with layer names as indices, weight shapes/dtypes)."""
    names = _layer_names(model)

    def normalize(value):
        if isinstance(value, dict):
            return {k: normalize(v) for k, v in value.items() if k != "name"}
        if isinstance(value, (list, tuple)):
            return [normalize(v) for v in value]
        return names.get(value, value) if isinstance(value, str) else value

    try:
        config = normalize(model.get_config())
    except NotImplementedError:  # a subclassed model without get_config: its variables still count
        config = None
    weights = [[list(w.shape), str(w.dtype)] for w in model.weights]
    blob = json.dumps({"class": type(model).__name__, "config": config, "weights": weights}, sort_keys=True,
                      default=repr)
    return hashlib.sha256(blob.encode()).hexdigest()


def run_settings(config, model, optimizer_config: dict, shuffle: bool, seed: int) -> dict:
    """The settings a checkpoint records (JSON values); see the module docstring."""
    settings = {
        "mode": config.mode, "batch_size": config.batch_size,
        "local_steps": config.local_steps if config.mode == AVERAGE else None,
        "partitions": config.partitions if config.mode == AVERAGE else None,
        "shuffle": bool(shuffle), "seed": seed if shuffle else None,
        "features": list(config.features), "label": config.label, "loss": _plain(config.loss),
        "optimizer": _plain(optimizer_config), "model": model_fingerprint(model),
    }
    return json.loads(json.dumps(settings, default=repr))


def differences(recorded: dict, current: dict, prefix: str = "") -> list:
    """'name: checkpoint X, now Y' for each recorded setting that differs (dicts compared key by key)."""
    found = []
    for key in sorted(recorded):
        old, new = recorded[key], current.get(key)
        if isinstance(old, dict) and isinstance(new, dict):
            found += differences({**dict.fromkeys(new), **old}, new, f"{prefix}{key}.")
        elif old != new:
            found.append(f"{prefix}{key}: checkpoint {old!r}, now {new!r}")
    return found


def find(checkpoint_dir: Optional[str], resume, spark) -> Optional[str]:
    """The checkpoint this run resumes from, or None (validates `resume`)."""
    if not (resume is None or isinstance(resume, bool) or resume == FORCE):
        raise ConfigError(f"resume must be None (resume when a checkpoint exists), True (require one), False "
                          f"(start over) or 'force' (resume even with changed settings), got {resume!r}")
    if resume is False:
        return None
    uri = ckpt.latest(checkpoint_dir, spark)
    if resume is True and uri is None:
        raise ConfigError(f"resume=True but checkpoint_dir={checkpoint_dir!r} holds no checkpoint")
    return uri


def load_checked(uri: str, settings: dict, resume, spark) -> ckpt.Checkpoint:
    """Load the checkpoint at `uri`; a ConfigError when its settings differ, unless resume='force'."""
    checkpoint = ckpt.load(uri, spark)
    recorded = checkpoint.state.get("settings")
    if recorded is None:  # written before checkpoints recorded their settings
        recorded = {k: checkpoint.state[k] for k in ("mode", "batch_size") if k in checkpoint.state}
        log.warning("checkpoint %s records only %s of the run's settings; the rest is not checked",
                    uri, sorted(recorded))
    changed = differences(recorded, settings)
    if changed and resume == FORCE:
        log.warning("resume='force': resuming from %s with changed settings: %s", uri, "; ".join(changed))
    elif changed:
        raise ConfigError(f"cannot resume from {uri}: this run's settings differ from the checkpoint's: "
                          f"{'; '.join(changed)}. Rerun with the checkpoint's settings, point checkpoint_dir at "
                          f"a new directory to start over, or pass resume='force' (jobs/train.py: --resume force) to "
                          f"resume anyway")
    return checkpoint
