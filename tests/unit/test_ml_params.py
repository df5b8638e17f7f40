"""Spark ML params of TFTransformer and KerasEstimator: Spark ML semantics, checked when set.

Params need pyspark but no SparkContext, so these run without a SparkSession.
"""
import json
import os
import re

import numpy as np
import pytest

from sparkdl import ConfigError
from sparkdl.ml import KerasEstimator, TFTransformer
from tests import models

REQUIRED = dict(model="/models/init.keras", features="features", label="label", loss="mse")


def _explicit(stage) -> dict:
    return {p.name: v for p, v in stage.extractParamMap().items() if stage.isSet(p)}


def test_transformer_set_params_changes_only_the_given_params():
    stage = TFTransformer(model="/m.keras", inputs={"x": "features"}, outputs="output_0=proba", batchSize=8)
    assert stage.setParams(batchSize=5) is stage
    assert (stage.getModel(), stage.getInputs(), stage.getOutputs(), stage.getBatchSize()) == \
        ("/m.keras", {"x": "features"}, {"output_0": "proba"}, 5)
    stage.setParams(inputs=None, batchSize=None)  # None: back to the default
    assert (stage.getInputs(), stage.getBatchSize(), stage.getOutputs()) == (None, None, {"output_0": "proba"})


def test_transformer_setters_and_mapping_forms():
    stage = TFTransformer().setModel("/m.keras").setInputs('{"x": "f"}').setOutputs({"y": "p"}).setBatchSize(3)
    assert (stage.getModel(), stage.getInputs(), stage.getOutputs(), stage.getBatchSize()) == \
        ("/m.keras", {"x": "f"}, {"y": "p"}, 3)
    assert stage.getOrDefault("inputs") == '{"x": "f"}'  # stored as JSON: persists as a string param


@pytest.mark.parametrize("bad, match", [(dict(inputs="x"), "name=column"), (dict(outputs={"a": "c", "b": "c"}), "once"),
                                        (dict(batchSize=0), "batch_size"), (dict(inputs="{not json"), "JSON")])
def test_transformer_rejects_bad_values_when_set_and_keeps_its_params(bad, match):
    stage = TFTransformer(model="/m.keras", batchSize=8)
    with pytest.raises(ConfigError, match=match):
        stage.setParams(**bad)
    assert (stage.getBatchSize(), stage.getInputs(), stage.getOutputs()) == (8, None, None)


def test_transformer_takes_keywords_only():
    with pytest.raises(TypeError, match="keyword"):
        TFTransformer("/m.keras")


def test_estimator_set_params_changes_only_the_given_params():
    estimator = KerasEstimator(**REQUIRED, epochs=3, mode="average", metrics=["mae", "mse"])
    before = _explicit(estimator)
    estimator.setParams(batchSize=32)
    assert _explicit(estimator) == {**before, "batchSize": 32}
    assert (estimator.getEpochs(), estimator.getMode(), estimator.getMetrics()) == (3, "average", "mae,mse")
    estimator.setParams(epochs=None)
    assert estimator.getEpochs() == 1 and "epochs" not in _explicit(estimator)


SETTINGS = dict(model="/models/other.keras", features=["a", "b"], label="y", loss="binary_crossentropy",
                optimizer="adam", epochs=2, batchSize=64, mode="average", localSteps=4, metrics="accuracy",
                checkpointDir="/tmp/ckpt", checkpointEvery=3, resume="force", validationFraction=0.2,
                partitions=3, shuffle=True, seed=9, outputPath="/tmp/out.keras", outputs={"output_0": "p"},
                imports="my_layers, more_layers")
STORED = {**SETTINGS, "features": "a,b", "outputs": {"output_0": "p"}, "imports": ["my_layers", "more_layers"]}


def test_estimator_getters_and_setters_cover_every_param():
    estimator = KerasEstimator()
    for name, value in SETTINGS.items():
        assert getattr(estimator, f"set{name[0].upper()}{name[1:]}")(value) is estimator
    assert {name: getattr(estimator, f"get{name[0].upper()}{name[1:]}")() for name in SETTINGS} == STORED
    assert {p.name for p in estimator.params} == set(SETTINGS)


def test_estimator_defaults_match_train():
    estimator = KerasEstimator()
    assert (estimator.getModel(), estimator.getLabel(), estimator.getOptimizer(), estimator.getEpochs(),
            estimator.getBatchSize(), estimator.getMode(), estimator.getLocalSteps(), estimator.getResume(),
            estimator.getPartitions(), estimator.getShuffle(), estimator.getSeed()) == \
        (None, None, "sgd", 1, 256, "sync", 8, "", None, False, 0)
    assert estimator._train_kwargs()["resume"] is None


@pytest.mark.parametrize("bad, match", [
    (dict(mode="bogus"), "mode must be one of"), (dict(epochs=0), "epochs"), (dict(batchSize=-1), "batchSize"),
    (dict(localSteps=0), "localSteps"), (dict(checkpointEvery=-1), "checkpointEvery"),
    (dict(partitions=0), "partitions"), (dict(resume="maybe"), "resume"), (dict(validationFraction=1.0), "[0, 1)"),
    (dict(optimizer="nope"), "optimizer 'nope'"), (dict(loss="nope"), "loss 'nope'"), (dict(metrics="bogus"), "bogus"),
    (dict(epochs="x"), "epochs"), (dict(model=3), "keras.Model"), (dict(features=""), "features"),
])
def test_estimator_rejects_bad_values_at_construction(bad, match):
    with pytest.raises(ConfigError, match=re.escape(match)):
        KerasEstimator(**{**REQUIRED, **bad})


def test_estimator_keeps_its_params_when_a_set_fails():
    estimator = KerasEstimator(**REQUIRED, epochs=4)
    with pytest.raises(ConfigError, match="mode"):
        estimator.setParams(epochs=7, mode="bogus")
    assert estimator.getEpochs() == 4 and estimator.getMode() == "sync"


def test_estimator_takes_python_values_for_resume_and_optimizer():
    import keras

    estimator = KerasEstimator(resume=True, optimizer=keras.optimizers.Adam(learning_rate=0.01))
    assert estimator.getResume() == "true" and estimator._train_kwargs()["resume"] is True
    config = json.loads(estimator.getOptimizer())
    assert config["class_name"] == "Adam" and config["config"]["learning_rate"] == pytest.approx(0.01)
    assert estimator.setResume(False)._train_kwargs()["resume"] is False


def test_estimator_saves_a_keras_model_object_to_a_keras_file():
    import keras

    model = models.mlp(4, 2, seed=3)
    estimator = KerasEstimator(model=model)
    path = estimator.getModel()
    assert path.endswith(".keras")
    loaded = keras.models.load_model(path, compile=False)
    for mine, theirs in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(mine, theirs)


def test_a_keras_model_set_on_the_estimator_is_saved_to_a_file_removed_at_exit(tmp_path):
    import subprocess
    import sys

    script = ("import keras; from sparkdl.ml import KerasEstimator; i = keras.Input((2,)); "
              "e = KerasEstimator(model=keras.Model(i, keras.layers.Dense(1)(i))); "
              "import os, urllib.parse; u = e.getModel(); p = urllib.parse.urlparse(u).path; "
              "assert u.startswith('file:///') and os.path.isfile(p); print(p)")  # file:, never fs.defaultFS
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    path = done.stdout.strip().splitlines()[-1]
    assert path.endswith(".keras") and not os.path.exists(path) and not os.path.exists(os.path.dirname(path))
