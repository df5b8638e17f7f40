"""Read a `.keras` or `.h5` file into a Keras model, with errors that say what to do.

`.h5`: Keras 3 reads the HDF5 files it (and most tf-keras 2.x versions) wrote; when it cannot, the
legacy `tf_keras` package is tried if it is installed. A `.keras` file saved by a newer Keras than
the one running fails inside Keras with a TypeError (e.g. about `quantization_config`): that
becomes a ModelFormatError naming both versions and the fix.
"""
from __future__ import annotations

import json
import zipfile

from ..errors import ModelFormatError


def saved_keras_version(path: str):
    """The Keras version recorded in a `.keras` file's metadata.json, or None."""
    try:
        with zipfile.ZipFile(path) as archive:
            return json.loads(archive.read("metadata.json")).get("keras_version")
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None


_SKEW_WORDS = ("quantization_config", "unexpected keyword", "Unrecognized keyword")


def _innermost(error: Exception) -> str:
    """Keras nests its deserialization errors; the last 'Exception encountered' is the cause."""
    text = str(error).rsplit("Exception encountered:", 1)[-1]
    return " ".join(text.split())[:240]


def _version_skew(path: str, error: Exception) -> ModelFormatError:
    import keras

    saved = saved_keras_version(path) or "unknown"
    return ModelFormatError(
        f"cannot load Keras model {path!r}: it was saved by Keras {saved} and this cluster runs Keras "
        f"{keras.__version__} ({_innermost(error)}). Install Keras {saved} on the driver and executors, "
        f"or export a SavedModel with model.export(path) where it was trained and score that")


def _load_legacy_h5(path: str, custom_objects: dict, first_error: Exception):
    try:
        import tf_keras
    except ImportError:
        raise ModelFormatError(
            f"cannot load HDF5 model {path!r} with Keras 3 ({_innermost(first_error)}); it looks "
            f"like a legacy tf-keras file: pip install tf-keras on the driver and executors, or export a "
            f"SavedModel with model.export(path) (tf-keras: tf.saved_model.save(model, path))") from None
    return tf_keras.models.load_model(path, custom_objects=custom_objects, compile=False)


def load_keras_file(path: str, custom_objects: dict):
    """A Keras model from a `.keras` or `.h5` file (executor and driver)."""
    import keras

    try:
        return keras.models.load_model(path, custom_objects=custom_objects or None, compile=False)
    except TypeError as error:
        if path.endswith((".h5", ".hdf5")):
            return _load_legacy_h5(path, custom_objects, error)
        if any(word in str(error) for word in _SKEW_WORDS):
            raise _version_skew(path, error) from None
        raise ModelFormatError(f"cannot load Keras model {path!r}: {_innermost(error)}. If it uses "
                               f"custom layers, pass custom_objects={{'Name': cls}} or imports=['module']") from None
    except (ValueError, OSError) as error:
        if path.endswith((".h5", ".hdf5")):
            return _load_legacy_h5(path, custom_objects, error)
        # caught by errors.reading_model on the driver: a damaged file, with the fix
        raise ModelFormatError(f"cannot load Keras model {path!r}: {error}") from error
