"""TFTransformer in a persisted Pipeline, and the SQL UDF."""
import json
import os
import shutil
from urllib.parse import urlparse

import numpy as np
import pytest
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.feature import SQLTransformer

import sparkdl
from tests import models

pytestmark = pytest.mark.slow


def test_pipeline_with_transformer_saves_and_loads_self_contained(spark, tmp_path, rng):
    model, keras_path, _ = models.save_both(models.mlp(8, 2, seed=11), tmp_path / "own")
    x = rng.normal(size=(30, 8)).astype(np.float32)
    df = spark.createDataFrame([(i, x[i].tolist()) for i in range(30)], "id long, raw array<float>")
    pipeline = Pipeline(stages=[SQLTransformer(statement="SELECT id, raw AS features FROM __THIS__"),
                                sparkdl.TFTransformer(model=keras_path, outputs={"output_0": "proba"}, batchSize=8)])
    fitted = pipeline.fit(df)
    fitted.write().overwrite().save(f"file://{tmp_path}/pipeline")
    shutil.rmtree(tmp_path / "own.keras", ignore_errors=True)
    (tmp_path / "own.keras").unlink(missing_ok=True)

    loaded = PipelineModel.load(f"file://{tmp_path}/pipeline")
    stage = loaded.stages[1]
    assert isinstance(stage, sparkdl.TFTransformer)
    assert stage.getOrDefault("batchSize") == 8
    assert stage.getOrDefault("model").startswith(f"file://{tmp_path}/pipeline/stages/")
    rows = loaded.transform(df).orderBy("id").collect()
    np.testing.assert_allclose(np.array([r["proba"] for r in rows]), model(x).numpy(), rtol=1e-5, atol=1e-6)


def test_transformer_of_a_keras_model_object_with_measured_batch_size_saves_and_loads(spark, tmp_path, mlp, rng):
    model, _, _ = mlp
    x = rng.normal(size=(40, 8)).astype(np.float32)
    df = spark.createDataFrame([(i, x[i].tolist()) for i in range(40)], "id long, features array<float>")
    given = sparkdl.TFTransformer(model=model)  # saved now to a temporary .keras file on the driver
    temporary = urlparse(given.getModel())  # a file: URI: a plain path would mean fs.defaultFS
    assert temporary.scheme == "file" and temporary.path.endswith(".keras") and os.path.isfile(temporary.path)
    given.write().overwrite().save(str(tmp_path / "stage"))
    os.remove(temporary.path)  # the saved stage holds its own copy
    stage = sparkdl.TFTransformer.load(str(tmp_path / "stage"))
    assert stage.getOrDefault("batchSize") is None  # unset: each worker measures its call size
    rows = stage.transform(df).orderBy("id").collect()
    np.testing.assert_allclose(np.array([r["prediction"] for r in rows]), model(x).numpy(), rtol=1e-5, atol=1e-6)


def test_sql_udf_single_and_multi_output(spark, mlp, multi_io, rng):
    model, keras_path, _ = mlp
    x = rng.normal(size=(10, 8)).astype(np.float32)
    spark.createDataFrame([(i, x[i].tolist()) for i in range(10)], "id long, f array<float>") \
        .createOrReplaceTempView("points")
    sparkdl.register_udf(spark, "mlp_score", keras_path)
    rows = spark.sql("SELECT id, mlp_score(f) AS p FROM points ORDER BY id").collect()
    np.testing.assert_allclose(np.array([r.p for r in rows]), model(x).numpy(), rtol=1e-5, atol=1e-6)

    two, two_path, _ = multi_io
    a, b = rng.normal(size=(6, 4)).astype(np.float32), rng.normal(size=(6, 2, 3)).astype(np.float32)
    spark.createDataFrame([(i, a[i].tolist(), b[i].tolist()) for i in range(6)],
                          "id long, a array<float>, b array<array<float>>").createOrReplaceTempView("pairs")
    sparkdl.register_udf(spark, "two_heads", two_path)
    rows = spark.sql("SELECT id, two_heads(a, b) AS out FROM pairs ORDER BY id").collect()
    np.testing.assert_allclose(np.array([r.out.grid for r in rows]), two([a, b])[1].numpy(), rtol=1e-5, atol=1e-6)


def test_udf_name_must_be_an_identifier(spark, mlp):
    with pytest.raises(sparkdl.ConfigError, match="SQL identifier"):
        sparkdl.register_udf(spark, "bad name", mlp[1])


def _regression_df(spark, rng, rows=64):
    x = rng.normal(size=(rows, 4)).astype(np.float32)
    y = (x @ np.array([1.0, -0.5, 0.25, 2.0]) + 0.3).astype(np.float32)
    df = spark.createDataFrame([(i, x[i].tolist(), float(y[i])) for i in range(rows)],
                               "id long, features array<float>, label double")
    return df, x


def _regressor(seed=6):
    import keras

    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((4,), name="features"), keras.layers.Dense(8, activation="tanh"),
                             keras.layers.Dense(1)])


def test_estimator_fits_a_keras_model_object_like_train(spark, rng, tmp_path):
    import keras

    df, x = _regression_df(spark, rng)
    model = _regressor()
    initial = model.get_weights()
    settings = dict(loss="mse", epochs=1, partitions=2)
    estimator = sparkdl.KerasEstimator(model=model, features="features", label="label", batchSize=16,
                                       optimizer=keras.optimizers.SGD(0.1), validationFraction=0.25, seed=3,
                                       outputs={"output_0": "y_hat"}, outputPath=str(tmp_path / "fitted.keras"),
                                       **settings)

    rows = estimator.fit(df).transform(df).orderBy("id").collect()

    start = keras.models.clone_model(model)
    start.set_weights(initial)
    training, validation = df.randomSplit([0.75, 0.25], seed=3)
    reference = sparkdl.train(training, start, features="features", label="label", batch_size=16,
                              optimizer=keras.optimizers.SGD(0.1), validation_df=validation, **settings)
    np.testing.assert_allclose(np.array([r.y_hat for r in rows]), reference.model(x).numpy(), rtol=1e-5, atol=1e-6)
    history = json.loads((tmp_path / "fitted.history.json").read_text())
    assert history[0]["samples"] == training.count() < len(x)
    assert history[0]["val_loss"] == pytest.approx(reference.history[0]["val_loss"], rel=1e-5)
    for before, after in zip(initial, model.get_weights()):  # the object given is never trained in place
        np.testing.assert_array_equal(before, after)


def test_estimator_names_a_missing_required_param_at_fit(spark, rng):
    df, _ = _regression_df(spark, rng, rows=4)
    estimator = sparkdl.KerasEstimator(model="/models/init.keras", features="features", loss="mse")
    with pytest.raises(sparkdl.ConfigError, match=r"\['label'\]"):
        estimator.fit(df)


def test_estimator_rejects_an_unknown_mode_at_construction():
    with pytest.raises(sparkdl.ConfigError, match="mode must be one of .* got 'fast'"):
        sparkdl.KerasEstimator(mode="fast")


def test_estimator_saves_and_loads_every_param_and_a_copy_of_its_model(spark, tmp_path, rng):
    import keras

    model = _regressor(seed=8)
    settings = dict(features="features", label="label", loss="mae", optimizer="adam", epochs=3, batchSize=8,
                    mode="average", localSteps=2, metrics="mse,mae", checkpointDir=f"file://{tmp_path}/ckpt",
                    checkpointEvery=2, resume="false", validationFraction=0.1, partitions=2, shuffle=True,
                    seed=4, outputPath=f"file://{tmp_path}/out.keras", outputs={"output_0": "p"})
    estimator = sparkdl.KerasEstimator(model=model, **settings)
    temporary = urlparse(estimator.getModel()).path
    estimator.write().save(str(tmp_path / "estimator"))
    os.remove(temporary)  # the saved stage holds its own copy

    loaded = sparkdl.KerasEstimator.load(str(tmp_path / "estimator"))

    assert loaded.uid == estimator.uid
    assert {p.name: loaded.getOrDefault(p) for p in loaded.params if p.name != "model"} == \
        {p.name: estimator.getOrDefault(p) for p in estimator.params if p.name != "model"}
    assert loaded.getModel().startswith(str(tmp_path / "estimator" / "model"))
    copy = keras.models.load_model(loaded.getModel().removeprefix("file:"), compile=False)
    x = rng.normal(size=(3, 4)).astype(np.float32)
    np.testing.assert_allclose(copy(x).numpy(), model(x).numpy(), rtol=1e-6)
