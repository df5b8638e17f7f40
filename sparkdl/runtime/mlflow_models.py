"""MLflow model URIs (driver side): resolve to a concrete version, download once, find the model file.

Accepted wherever a model URI is: `models:/<name>/<version>`, `models:/<name>@<alias>`,
`models:/<name>/latest`, `runs:/<run_id>/<path>` and logged-model URIs (`models:/m-<id>`, what
`mlflow.<flavor>.log_model` returns). An alias or `latest` is resolved once per call to a version
number (logged); a concrete version is immutable, so its artifacts are downloaded once per driver
process and the copy is reused. The model inside is read from the `MLmodel` file: the `.keras`
file under the Keras/TensorFlow flavor's data directory, or its SavedModel directory.

mlflow is an optional extra: without it, a ConfigError says what to install.
"""
from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from typing import Dict, Optional

from ..errors import ConfigError, ModelFormatError, ModelNotFoundError

log = logging.getLogger(__name__)
SCHEMES = ("models:/", "runs:/")
FLAVORS = ("keras", "tensorflow")  # MLmodel flavors sparkdl reads, in order of preference
INSTALL = "pip install 'sparkdl-tf[mlflow]'"
_LOGGED_MODEL = re.compile(r"^m-[0-9a-f]+$")
_downloads: Dict[str, str] = {}  # concrete URI -> local model path (driver process)
_versions: Dict[str, str] = {}  # URI as given -> the version it last resolved to


@dataclass(frozen=True)
class MlflowModel:
    """uri: as given; concrete: the immutable URI it resolved to; version: what job summaries report."""

    uri: str
    concrete: str
    version: str


def is_mlflow_uri(uri) -> bool:
    return isinstance(uri, str) and uri.startswith(SCHEMES)


def require_mlflow():
    """Import mlflow, or a ConfigError naming the extra to install."""
    try:
        import mlflow
    except ImportError:
        raise ConfigError(f"MLflow model URIs and MLflow tracking need the mlflow package, which is not "
                          f"installed; install it with: {INSTALL}") from None
    return mlflow


def resolve(uri: str) -> MlflowModel:
    """The concrete version `uri` names now (one tracking-server call for an alias or `latest`)."""
    mlflow = require_mlflow()
    from mlflow.exceptions import MlflowException

    path = uri.split(":/", 1)[1].strip("/")
    if uri.startswith("runs:/"):
        return MlflowModel(uri, uri, path.split("/", 1)[0])
    if _LOGGED_MODEL.match(path):
        return MlflowModel(uri, uri, path)
    client = mlflow.MlflowClient()
    try:
        if "@" in path:
            name, alias = path.split("@", 1)
            version = client.get_model_version_by_alias(name, alias).version
        elif "/" in path:
            name, version = path.rsplit("/", 1)
            if version == "latest":
                version = max(int(v.version) for v in client.search_model_versions(f"name = '{name}'"))
            else:
                client.get_model_version(name, version)
        else:
            raise ModelNotFoundError(f"MLflow model URI {uri!r} names no version; use models:/{path}/<version>, "
                                     f"models:/{path}@<alias> or models:/{path}/latest")
    except MlflowException as error:
        raise ModelNotFoundError(f"MLflow cannot resolve {uri!r} at {mlflow.get_tracking_uri()}: {error.message}. "
                                 f"Check the name, the version or alias, and MLFLOW_TRACKING_URI") from None
    return MlflowModel(uri, f"models:/{name}/{version}", f"{name}/{version}")


def model_file(directory: str) -> str:
    """The .keras file or SavedModel directory inside a downloaded MLflow model (or the path itself)."""
    if os.path.isfile(directory) or not os.path.exists(os.path.join(directory, "MLmodel")):
        return directory
    import yaml

    with open(os.path.join(directory, "MLmodel")) as handle:
        flavors = yaml.safe_load(handle).get("flavors", {})
    flavor = next((name for name in FLAVORS if name in flavors), None)
    if flavor is None:
        raise ModelFormatError(f"the MLflow model at {directory!r} has the flavor(s) {sorted(flavors)}; sparkdl reads "
                               f"{list(FLAVORS)}: log the model with mlflow.tensorflow.log_model")
    data = os.path.join(directory, flavors[flavor].get("data") or "data")
    for root, dirs, files in os.walk(data):
        keras = sorted(f for f in files if f.endswith(".keras"))
        if keras:
            return os.path.join(root, keras[0])
        if "saved_model.pb" in files:
            return root
    raise ModelFormatError(f"the MLflow model at {directory!r} ({flavor} flavor) holds neither a .keras file nor a "
                           f"SavedModel under {data!r}; log it with mlflow.tensorflow.log_model")


def localize(uri: str) -> str:
    """Driver: resolve `uri`, download its version once, and return the local model path to ship."""
    resolved = resolve(uri)
    local = _downloads.get(resolved.concrete)
    if local is None or not os.path.exists(local):
        import mlflow
        from mlflow.exceptions import MlflowException

        try:
            local = model_file(mlflow.artifacts.download_artifacts(resolved.concrete))
        except MlflowException as error:
            raise ModelNotFoundError(f"MLflow cannot download {resolved.concrete!r} (from {uri!r}): "
                                     f"{error.message}") from None
        _downloads[resolved.concrete] = local
    if _versions.get(uri) != resolved.version:
        log.info("MLflow model %s is %s (%s)", uri, resolved.concrete, local)
    _versions[uri] = resolved.version
    return local


def version_of(uri) -> Optional[str]:
    """The version an MLflow `uri` last resolved to in this process (None for other URIs)."""
    return _versions.get(uri) if is_mlflow_uri(uri) else None
