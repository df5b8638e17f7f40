"""How a model is loaded: `custom_objects`, `imports`, `signature` (driver builds, executors apply).

One vocabulary everywhere a model is loaded (`predict`, `register_udf`, `TFTransformer`,
`score_stream`, the jobs' `--import` / `--signature`):

* custom_objects: {"Name": class or function} passed to Keras when it loads the model. The
  objects travel to executors inside the task closure (cloudpickle): classes from importable
  modules by reference, others by value.
* imports: module names imported on the driver and in every executor worker before loading,
  e.g. a module of `@keras.saving.register_keras_serializable` layers shipped with `--py-files`.
* signature: the SavedModel signature key to score (default "serving_default").

Pure Python: no TensorFlow, no Spark.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Tuple

from ..errors import ConfigError

SERVING_KEY = "serving_default"


@dataclass(frozen=True)
class LoadOptions:
    """Frozen and hashable: part of the worker cache key and the driver's model cache key."""

    custom_objects: Tuple[Tuple[str, Any], ...] = ()
    imports: Tuple[str, ...] = ()
    signature: str = SERVING_KEY

    def key(self) -> tuple:
        """What identifies these options in caches (objects by their qualified names)."""
        names = tuple((name, f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}")
                      for name, obj in self.custom_objects)
        return names, self.imports, self.signature

    def objects(self) -> dict:
        return dict(self.custom_objects)

    def import_modules(self) -> None:
        """Import `imports` in this process (driver or executor worker), naming a missing one."""
        for module in self.imports:
            try:
                importlib.import_module(module)
            except ImportError as error:
                raise ConfigError(f"imports names module {module!r}, which cannot be imported here ({error}); ship "
                                  f"it with --py-files / sc.addPyFile or install it on every node") from None


DEFAULT = LoadOptions()


def load_options(custom_objects=None, imports=None, signature=None) -> LoadOptions:
    """Check the loading options a user passed and freeze them (driver)."""
    if custom_objects is not None and not isinstance(custom_objects, dict):
        raise ConfigError(f"custom_objects must be a dict like {{'MyLayer': MyLayer}}, got {custom_objects!r}")
    if any(not isinstance(name, str) for name in custom_objects or {}):
        raise ConfigError(f"custom_objects keys must be the names the model was saved with, got "
                          f"{list(custom_objects)}")
    if isinstance(imports, str):
        imports = [imports]
    if imports is not None and not all(isinstance(m, str) and m for m in imports):
        raise ConfigError(f"imports must be a list of module names like ['mypackage.layers'], got {imports!r}")
    if signature is not None and not (isinstance(signature, str) and signature):
        raise ConfigError(f"signature must be a SavedModel signature key like 'serving_default', got {signature!r}")
    return LoadOptions(custom_objects=tuple(sorted((custom_objects or {}).items())),
                       imports=tuple(imports or ()), signature=signature or SERVING_KEY)
