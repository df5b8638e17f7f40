"""Model files that Keras cannot read as-is: version skew, legacy .h5, loading options (no Spark)."""
import json
import zipfile

import pytest

from sparkdl.errors import ConfigError, ModelFormatError
from sparkdl.model_archive import KERAS, detect_kind
from sparkdl.runtime.load_options import LoadOptions, load_options


def _small_keras(path):
    import keras

    inputs = keras.Input(shape=(2,), name="x")
    keras.Model(inputs, keras.layers.Dense(1)(inputs)).save(str(path))


def _rewrite(path, edit):
    """Rewrite a .keras zip, passing config.json and metadata.json through `edit(name, dict)`."""
    with zipfile.ZipFile(path) as source:
        entries = {name: source.read(name) for name in source.namelist()}
    for name in ("config.json", "metadata.json"):
        entries[name] = json.dumps(edit(name, json.loads(entries[name]))).encode()
    with zipfile.ZipFile(path, "w") as target:
        for name, data in entries.items():
            target.writestr(name, data)


def test_keras_version_skew_names_both_versions_and_the_fix(tmp_path):
    import keras

    from sparkdl.tf.model_io import load_model

    path = tmp_path / "newer.keras"
    _small_keras(path)

    def newer(name, data):
        if name == "metadata.json":
            return {**data, "keras_version": "9.1.0"}
        for layer in data["config"]["layers"]:
            if layer["class_name"] == "Dense":
                layer["config"]["quantization_config"] = {"mode": "int4"}
                layer["config"]["future_only_argument"] = 1
        return data

    _rewrite(path, newer)
    with pytest.raises(ModelFormatError, match=r"9\.1\.0.*" + keras.__version__.replace(".", r"\.") +
                       r".*SavedModel"):
        load_model(str(path), KERAS)


def test_h5_is_a_keras_file_and_other_suffixes_are_refused(tmp_path):
    (tmp_path / "m.h5").write_bytes(b"x")
    (tmp_path / "m.pkl").write_bytes(b"x")
    assert detect_kind(str(tmp_path / "m.h5")) == KERAS
    with pytest.raises(ModelFormatError, match=r"\.keras or \.h5"):
        detect_kind(str(tmp_path / "m.pkl"))


def test_load_options_are_checked_and_hashable():
    options = load_options({"B": int, "A": float}, "json", None)
    assert options == LoadOptions((("A", float), ("B", int)), ("json",), "serving_default")
    assert hash(options.key()) == hash(load_options({"A": float, "B": int}, ["json"]).key())
    with pytest.raises(ConfigError, match="custom_objects"):
        load_options(["A"])
    with pytest.raises(ConfigError, match="nope_module"):
        load_options(imports=["nope_module"]).import_modules()


def test_transformer_keeps_its_loading_options():
    from sparkdl.ml.transformer import TFTransformer

    stage = TFTransformer(model="/m.keras", imports=["tests.custom_layers"], signature="double")
    assert stage.getOrDefault(stage.imports) == ["tests.custom_layers"]
    assert stage.getOrDefault(stage.signature) == "double"
    assert TFTransformer(model="/m.keras").getOrDefault("signature") == ""


def test_h5_keras_3_cannot_read_names_tf_keras_or_savedmodel(tmp_path):
    import importlib.util

    import h5py

    from sparkdl.tf.model_io import load_model

    path = tmp_path / "legacy.h5"
    with h5py.File(path, "w") as handle:  # an HDF5 file without the model_config Keras 3 reads
        handle.attrs["keras_version"] = "2.4.0"
        handle.create_dataset("weights", data=[1.0])
    if importlib.util.find_spec("tf_keras") is not None:
        pytest.skip("tf_keras is installed: the legacy loader is tried instead")
    with pytest.raises(ModelFormatError, match="pip install tf-keras.*SavedModel"):
        load_model(str(path), KERAS)
