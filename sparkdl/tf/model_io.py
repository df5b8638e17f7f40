"""Load a SavedModel directory or `.keras` file as a fast batch function, and read its signature.

Runs on the driver (to read the signature before any job) and on executors (to score). Keras'
`model.predict` is far slower per batch than a compiled graph, so both formats are called through
a concrete graph function: the SavedModel's `serving_default` signature, or a `tf.function` with
a batch-polymorphic input signature wrapped around the Keras model.
"""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from ..errors import ModelFormatError  # noqa: E402
from ..model_archive import KERAS, SAVED_MODEL  # noqa: E402
from ..runtime.load_options import DEFAULT, LoadOptions  # noqa: E402
from ..signature import ModelSignature, TensorSpec  # noqa: E402


def _spec(name, shape, dtype) -> TensorSpec:
    dims = tuple(None if d is None else int(d) for d in tf.TensorShape(shape).as_list())
    dtype = tf.as_dtype(dtype)
    return TensorSpec(name=name, shape=dims, dtype="string" if dtype == tf.string else dtype.as_numpy_dtype.__name__)


class LoadedModel:
    """A model ready to score: `signature` describes it, calling it maps input arrays to outputs."""

    def __init__(self, signature: ModelSignature, function, keyword_inputs: bool, output_keys):
        self.signature = signature
        self._function = function
        self._keyword_inputs = keyword_inputs
        self._output_keys = output_keys

    def __call__(self, inputs: dict) -> dict:
        """Score one batch: {input name: array} -> {output name: array}."""
        if self._keyword_inputs:
            result = self._function(**{k: tf.convert_to_tensor(v) for k, v in inputs.items()})
        else:
            result = self._function(*[tf.convert_to_tensor(inputs[n]) for n in self.signature.input_names()])
        if not isinstance(result, dict):
            result = dict(zip(self._output_keys, result if isinstance(result, (list, tuple)) else [result]))
        return {spec.name: np.asarray(result[key]) for spec, key in zip(self.signature.outputs, self._output_keys)}


def _declared_order(loaded, names: set):
    """The input names in the order the exported function declared them, or None.

    A SavedModel signature stores its inputs as a map (TF lists them sorted); the restored
    `tf.function` it was exported from still knows its argument order, so look for the one whose
    positional inputs carry exactly these names.
    """
    for attribute in dir(loaded):
        if attribute.startswith("_"):
            continue
        function = getattr(loaded, attribute, None)
        concrete = getattr(function, "_list_all_concrete_functions_for_serialization", None)
        if concrete is None:
            continue
        for candidate in concrete():
            positional = candidate.structured_input_signature[0]
            declared = [getattr(spec, "name", None) for spec in positional]
            if len(declared) == len(names) and set(declared) == names:
                return declared
    return None


def _load_saved_model(path: str, options: LoadOptions) -> LoadedModel:
    loaded = tf.saved_model.load(path)
    signatures = dict(loaded.signatures)
    key = options.signature
    if key not in signatures:
        raise ModelFormatError(
            f"SavedModel {path!r} has no '{key}' signature (it has {sorted(signatures)}); pass "
            f"signature='<key>' with one of those, or export it with model.export(path) or "
            f"tf.saved_model.save(obj, path, signatures=...)")
    function = signatures[key]
    input_specs = function.structured_input_signature[1]
    output_specs = function.structured_outputs
    # keep the object alive: the signature function refers to its variables
    function._sparkdl_owner = loaded
    order = _declared_order(loaded, set(input_specs)) or sorted(input_specs)
    inputs = tuple(_spec(n, input_specs[n].shape, input_specs[n].dtype) for n in order)
    outputs = tuple(_spec(n, s.shape, s.dtype) for n, s in sorted(output_specs.items()))
    return LoadedModel(ModelSignature(inputs, outputs), function, True, [s.name for s in outputs])


def _dict_output_keys(model):
    """The sorted keys of a functional model's dict output (as `model.outputs` orders them), else None."""
    try:
        structure = model.output
    except AttributeError:  # a Sequential model that was never called: one tensor output
        return None
    return sorted(structure) if isinstance(structure, dict) else None


def _keras_outputs(model) -> list:
    """(name, symbolic tensor) per output: a dict output's keys, else the model's output names."""
    keys = _dict_output_keys(model)
    if keys is not None:
        return [(str(key), model.output[key]) for key in keys]
    tensors = list(model.outputs)
    names = list(getattr(model, "output_names", None) or ())
    if len(names) != len(tensors) or len(set(names)) != len(names):
        names = [f"output_{i}" for i in range(len(tensors))]
    return list(zip(names, tensors))


def _load_keras(path: str, options: LoadOptions) -> LoadedModel:
    from .keras_files import load_keras_file

    return keras_model_function(load_keras_file(path, options.objects()))


def keras_model_function(model) -> LoadedModel:
    """A Keras model wrapped as a batch-polymorphic graph function."""
    tensors_in = list(model.inputs)
    named_out = _keras_outputs(model)
    names_out = [name for name, _ in named_out]
    inputs = tuple(_spec(t.name, t.shape, t.dtype) for t in tensors_in)
    outputs = tuple(_spec(n, t.shape, t.dtype) for n, t in named_out)
    input_signature = [tf.TensorSpec(t.shape, t.dtype, name=t.name) for t in tensors_in]
    dict_keys = _dict_output_keys(model)

    @tf.function(input_signature=input_signature, reduce_retracing=True)
    def function(*tensors):
        result = model(list(tensors) if len(tensors) > 1 else tensors[0], training=False)
        if dict_keys is not None:  # the dict's keys are the output names
            return {str(key): result[key] for key in dict_keys}
        return list(result) if isinstance(result, (list, tuple)) else [result]

    function._sparkdl_owner = model
    return LoadedModel(ModelSignature(inputs, outputs), function, False, names_out)


def load_model(path: str, kind: str, device: str = None, options: LoadOptions = DEFAULT) -> LoadedModel:
    """Load a local model of `kind` (SAVED_MODEL or KERAS), placing its variables on `device`.

    `options` (custom objects, modules to import first, the signature key) apply on the driver and
    on executors alike.
    """
    options = options or DEFAULT
    options.import_modules()
    loader = {SAVED_MODEL: _load_saved_model, KERAS: _load_keras}[kind]
    if not device:
        return loader(path, options)
    with tf.device(device):
        return loader(path, options)


def describe_model(path: str, kind: str, options: LoadOptions = DEFAULT) -> ModelSignature:
    """Read a local model's signature (driver side)."""
    return load_model(path, kind, "/CPU:0", options).signature


def save_for_shipping(model, directory: str) -> str:
    """Save an in-memory keras.Model as a `.keras` file under `directory` (driver); return its path."""
    path = os.path.join(directory, f"{model.name or 'model'}.keras")
    model.save(path)
    return path
