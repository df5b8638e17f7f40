"""sparkdl.train on local[2] against single-process Keras."""
import json

import numpy as np
import pytest

import sparkdl
from sparkdl import ConfigError, SchemaError
from sparkdl.tf import example_models

pytestmark = pytest.mark.slow


def _regression(rng, rows=512):
    x = rng.normal(size=(rows, 6)).astype(np.float32)
    y = (x @ np.linspace(-1, 1, 6) + 0.5).astype(np.float32)
    return x, y


def _classification(rng, rows=600, classes=3):
    x = rng.normal(size=(rows, 5)).astype(np.float32)
    y = np.argmax(x[:, :classes], axis=1)
    return x, y


def _df(spark, x, y, label_type="double"):
    return spark.createDataFrame([(x[i].tolist(), float(y[i])) for i in range(len(y))],
                                 f"features array<float>, label {label_type}").repartition(3)


def _ordered_df(spark, x, y):
    """A DataFrame whose row order (partition by partition) is the numpy order."""
    rows = [(x[i].tolist(), float(y[i])) for i in range(len(y))]
    return spark.createDataFrame(rows, "features array<float>, label double")


def _linear(seed=5, outputs=1, activation=None, hidden=8):
    import keras

    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((6,), name="features"),
                             keras.layers.Dense(hidden, activation="tanh"),
                             keras.layers.Dense(outputs, activation=activation)])


def _keras_reference(model, x, y, loss, batch, epochs, lr):
    import keras

    reference = keras.models.clone_model(model)
    reference.set_weights(model.get_weights())
    reference.compile(optimizer=keras.optimizers.SGD(lr), loss=loss)
    reference.fit(x, y, batch_size=batch, epochs=epochs, shuffle=False, verbose=0)
    return reference


@pytest.mark.parametrize("problem", ["regression", "classification"])
def test_sync_equals_single_process_keras(spark, rng, problem):
    import keras

    if problem == "regression":
        x, y = _regression(rng)
        model, loss = _linear(), "mse"
    else:
        x, y = _classification(rng)
        model, loss = example_models.mlp(5, 3, hidden=(8,), seed=4), "sparse_categorical_crossentropy"
    reference = _keras_reference(model, x, y, loss, batch=64, epochs=2, lr=0.1)
    result = sparkdl.train(_ordered_df(spark, x, y), model, features="features", label="label", loss=loss,
                           optimizer=keras.optimizers.SGD(0.1), epochs=2, batch_size=64, mode="sync",
                           metrics=["accuracy"] if problem == "classification" else ["mae"])
    for ours, theirs in zip(result.model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(ours, theirs, rtol=2e-4, atol=2e-5)
    assert [h["epoch"] for h in result.history] == [1, 2]
    assert result.history[0]["samples"] == len(y) and result.history[0]["rounds"] == -(-len(y) // 64)
    assert result.history[1]["loss"] < result.history[0]["loss"]


def test_average_mode_learns_a_separable_problem(spark, rng):
    x, y = _classification(rng, rows=2000, classes=2)
    train_df = _df(spark, x[:1600], y[:1600])
    val_df = _df(spark, x[1600:], y[1600:])
    model = example_models.mlp(5, 2, hidden=(16,), seed=2)
    result = sparkdl.train(train_df, model, features="features", label="label",
                           loss="sparse_categorical_crossentropy", optimizer={"class_name": "SGD",
                                                                              "config": {"learning_rate": 0.2}},
                           epochs=4, batch_size=64, mode="average", local_steps=5, metrics=["accuracy"],
                           validation_df=val_df)
    assert result.history[-1]["val_accuracy"] >= 0.9, result.history
    assert result.history[0]["rounds"] == -(-1600 // (64 * 5))


def test_checkpoint_and_resume_continue_where_they_stopped(spark, rng, tmp_path):
    import keras

    x, y = _regression(rng, rows=256)
    df = _ordered_df(spark, x, y)
    ckpt = f"file://{tmp_path}/ckpt"
    args = dict(features="features", label="label", loss="mse", batch_size=32, mode="sync", checkpoint_dir=ckpt,
                checkpoint_every=3)
    full = sparkdl.train(df, _linear(seed=9), optimizer=keras.optimizers.Adam(0.01), epochs=3, **{
        **args, "checkpoint_dir": f"file://{tmp_path}/other"})
    first = sparkdl.train(df, _linear(seed=9), optimizer=keras.optimizers.Adam(0.01), epochs=1, **args)
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir())[-1] == "ckpt-000000008"
    resumed = sparkdl.train(df, _linear(seed=9), optimizer=keras.optimizers.Adam(0.01), epochs=3, **args)
    assert len(first.history) == 1 and len(resumed.history) == 3
    assert resumed.history[0] == first.history[0]
    for ours, theirs in zip(resumed.model.get_weights(), full.model.get_weights()):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)
    assert len([p for p in (tmp_path / "ckpt").iterdir() if p.name.startswith("ckpt-")]) == 3


class TestResumeChecksTheRunsSettings:
    """A checkpoint records the run's settings; resuming with others is a ConfigError, or resume="force"."""

    def _args(self, tmp_path, **extra):
        return dict(features="features", label="label", loss="mse", mode="sync",
                    checkpoint_dir=f"file://{tmp_path}/ckpt", **extra)

    def test_changed_settings_or_model_are_config_errors_naming_both_values(self, spark, rng, tmp_path):
        import keras

        x, y = _regression(rng, rows=128)
        df = _ordered_df(spark, x, y)
        sparkdl.train(df, _linear(seed=3), optimizer=keras.optimizers.SGD(0.05), epochs=1, batch_size=32,
                      **self._args(tmp_path))
        with pytest.raises(ConfigError, match=r"batch_size: checkpoint 32, now 64") as error:
            sparkdl.train(df, _linear(seed=3), optimizer=keras.optimizers.SGD(0.05), epochs=2, batch_size=64,
                          **self._args(tmp_path))
        assert "resume='force'" in str(error.value) and "ckpt-000000004" in str(error.value)
        for other in (_linear(seed=3, hidden=4), _linear(seed=3, activation="sigmoid")):
            with pytest.raises(ConfigError, match=r"model: checkpoint '[0-9a-f]{64}', now '[0-9a-f]{64}'"):
                sparkdl.train(df, other, optimizer=keras.optimizers.SGD(0.05), epochs=2, batch_size=32,
                              **self._args(tmp_path))
        with pytest.raises(ConfigError, match=r"optimizer\.config\.learning_rate: checkpoint 0\.05, now 0\.1; "
                                              r"seed: checkpoint None, now 7; shuffle: checkpoint False, now True\."):
            sparkdl.train(df, _linear(seed=3), optimizer=keras.optimizers.SGD(0.1), epochs=2, batch_size=32,
                          shuffle=True, seed=7, **self._args(tmp_path))
        with pytest.raises(ConfigError, match="resume must be None .* got 'yes'"):
            sparkdl.train(df, _linear(seed=3), epochs=2, batch_size=32, resume="yes", **self._args(tmp_path))

    def test_same_architecture_resumes_and_force_resumes_despite_changes(self, spark, rng, tmp_path):
        import keras

        x, y = _regression(rng, rows=128)
        df = _ordered_df(spark, x, y)
        first = sparkdl.train(df, _linear(seed=3), optimizer=keras.optimizers.SGD(0.05), epochs=1, batch_size=32,
                              **self._args(tmp_path))
        # another build of the same architecture (new layer names, other initial weights) is the same model;
        # sync rounds are the same global batches on any number of partitions
        resumed = sparkdl.train(df, _linear(seed=8), optimizer=keras.optimizers.SGD(0.05), epochs=2, batch_size=32,
                                partitions=3, **self._args(tmp_path))
        assert resumed.history[0] == first.history[0] and len(resumed.history) == 2
        forced = sparkdl.train(df, _linear(seed=3), optimizer=keras.optimizers.SGD(0.05), epochs=3, batch_size=64,
                               resume="force", **self._args(tmp_path))
        assert forced.history[:2] == resumed.history and forced.history[2]["rounds"] == 2
        assert forced.history[2]["samples"] == 128


def test_column_names_with_a_dot_and_a_space_train_like_keras(spark, rng, tmp_path):
    """features='feat.x', label='lab el' (names Spark allows, which unquoted lookups split or reject):
    train (with validation) and jobs/train.py give Keras' weights and validation loss."""
    import keras

    from tests.unit.test_job_flags import load_job

    x, y = _regression(rng, rows=96)
    model = _linear(seed=9)
    model.save(tmp_path / "initial.keras")  # train() trains `model` in place
    reference = _keras_reference(model, x, y, "mse", batch=32, epochs=1, lr=0.1)
    expected_val_loss = reference.evaluate(x[:40], y[:40], verbose=0)
    df = _ordered_df(spark, x, y).toDF("feat.x", "lab el")
    validation = _ordered_df(spark, x[:40], y[:40]).toDF("feat.x", "lab el")
    result = sparkdl.train(df, model, features="feat.x", label="lab el", loss="mse",
                           optimizer=keras.optimizers.SGD(0.1), epochs=1, batch_size=32, validation_df=validation)
    for ours, theirs in zip(result.model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(ours, theirs, rtol=2e-4, atol=2e-5)
    assert result.history[0]["samples"] == 96
    np.testing.assert_allclose(result.history[0]["val_loss"], expected_val_loss, rtol=1e-4)

    df.coalesce(1).write.parquet(str(tmp_path / "train"))
    validation.coalesce(1).write.parquet(str(tmp_path / "val"))
    summary = load_job("train").main([
        "--model", str(tmp_path / "initial.keras"), "--input", str(tmp_path / "train"), "--validation",
        str(tmp_path / "val"), "--features", "feat.x", "--label", "lab el", "--optimizer", "sgd",
        "--learning-rate", "0.1", "--batch-size", "32", "--output", str(tmp_path / "trained.keras")])
    np.testing.assert_allclose(summary["final"]["val_loss"], expected_val_loss, rtol=1e-4)
    trained = keras.models.load_model(tmp_path / "trained.keras")
    for ours, theirs in zip(trained.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(ours, theirs, rtol=2e-4, atol=2e-5)


def test_round_after_a_shard_is_lost_or_emptied_recomputes_it_from_the_cached_rows(spark, rng, monkeypatch):
    """A missing shard and an empty one in its place (what the old fallback left behind) are both
    recomputed from their partition's cached rows; every row is used and the weights are Keras'."""
    import os
    import shutil

    import keras
    from pyspark import SparkFiles

    from sparkdl.training import loop

    x, y = _regression(rng, rows=192)
    model = _linear(seed=11)
    reference = _keras_reference(model, x, y, "mse", batch=32, epochs=2, lr=0.1)
    train_round, damaged = loop.TrainingRun.train_round, []

    def damage_then_train(self, global_round, start):
        if global_round in (2, 8):
            root = os.path.join(SparkFiles.getRootDirectory(), "sparkdl-shards", self.run_id)
            shutil.rmtree(os.path.join(root, "part-00000"))
            empty = os.path.join(root, "part-00001")
            for name in os.listdir(empty):
                values = np.load(os.path.join(empty, name))
                np.save(os.path.join(empty, name), values[:0])
            damaged.append(global_round)
        return train_round(self, global_round, start)

    monkeypatch.setattr(loop.TrainingRun, "train_round", damage_then_train)
    result = sparkdl.train(_ordered_df(spark, x, y), model, features="features", label="label", loss="mse",
                           optimizer=keras.optimizers.SGD(0.1), epochs=2, batch_size=32, partitions=3)
    assert damaged == [2, 8]
    assert [h["samples"] for h in result.history] == [192, 192]
    for ours, theirs in zip(result.model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(ours, theirs, rtol=2e-4, atol=2e-5)


def test_result_saves_model_and_history(spark, rng, tmp_path):
    x, y = _regression(rng, rows=64)
    result = sparkdl.train(_ordered_df(spark, x, y), _linear(), features="features", label="label", loss="mse",
                           epochs=1, batch_size=32)
    uri = result.save(f"file://{tmp_path}/out/model.keras", spark)
    assert (tmp_path / "out" / "model.keras").is_file()
    assert json.loads((tmp_path / "out" / "model.history.json").read_text())[0]["samples"] == 64
    rows = sparkdl.predict(_ordered_df(spark, x, y), uri).collect()
    assert len(rows) == 64


class TestBadInput:
    def test_missing_label(self, spark, rng):
        x, y = _regression(rng, rows=8)
        with pytest.raises(SchemaError, match=r"label column 'target' is not in the DataFrame"):
            sparkdl.train(_df(spark, x, y), _linear(), features="features", label="target", loss="mse")

    def test_feature_shape(self, spark):
        df = spark.createDataFrame([([[1.0, 2.0]], 1.0)], "features array<array<float>>, label double")
        with pytest.raises(SchemaError, match="array level"):
            sparkdl.train(df, _linear(), features="features", label="label", loss="mse")

    def test_non_numeric_label(self, spark):
        df = spark.createDataFrame([([1.0] * 6, "a")], "features array<float>, label string")
        with pytest.raises(SchemaError, match="StringIndexer"):
            sparkdl.train(df, _linear(), features="features", label="label", loss="mse")

    def test_unknown_loss_and_mode(self, spark, rng):
        x, y = _regression(rng, rows=8)
        with pytest.raises(ConfigError, match="unknown loss 'msee'"):
            sparkdl.train(_df(spark, x, y), _linear(), features="features", label="label", loss="msee")
        with pytest.raises(ConfigError, match="mode must be one of"):
            sparkdl.train(_df(spark, x, y), _linear(), features="features", label="label", loss="mse", mode="x")

    def test_empty_dataframe(self, spark):
        df = spark.createDataFrame([], "features array<float>, label double")
        with pytest.raises(SchemaError, match="training DataFrame is empty"):
            sparkdl.train(df, _linear(), features="features", label="label", loss="mse")

    def test_nan_fails_before_round_1_naming_the_row(self, spark, rng):
        x, y = _regression(rng, rows=64)
        x[40, 2] = np.nan
        with pytest.raises(sparkdl.TensorError, match=r"column 'features' holds NaN or infinity .*position 40\)"):
            sparkdl.train(_ordered_df(spark, x, y), _linear(), features="features", label="label", loss="mse",
                          batch_size=32)


def test_estimator_in_a_pipeline_fits_saves_and_loads(spark, rng, tmp_path):
    from pyspark.ml import Pipeline, PipelineModel
    from pyspark.ml.feature import SQLTransformer

    x, y = _classification(rng, rows=300, classes=3)
    df = spark.createDataFrame([(i, x[i].tolist(), float(y[i])) for i in range(300)],
                               "id long, raw array<float>, y double")
    initial = tmp_path / "init.keras"
    example_models.mlp(5, 3, hidden=(8,), seed=4).save(initial)
    estimator = sparkdl.KerasEstimator(model=str(initial), features="features", label="y",
                                       loss="sparse_categorical_crossentropy", optimizer='{"class_name": "SGD", '
                                       '"config": {"learning_rate": 0.3}}', epochs=3, batchSize=32,
                                       outputPath=f"file://{tmp_path}/trained.keras", outputs={"output_0": "proba"})
    pipeline = Pipeline(stages=[SQLTransformer(statement="SELECT id, raw AS features, y FROM __THIS__"), estimator])
    fitted = pipeline.fit(df)
    fitted.write().save(str(tmp_path / "pipeline"))
    (tmp_path / "trained.keras").unlink()
    rows = PipelineModel.load(str(tmp_path / "pipeline")).transform(df).orderBy("id").collect()
    accuracy = np.mean([np.argmax(r.proba) == r.y for r in rows])
    assert len(rows) == 300 and accuracy > 0.8
    pipeline.write().save(str(tmp_path / "unfitted"))
    restored = Pipeline.load(str(tmp_path / "unfitted")).getStages()[1]
    assert restored.getOrDefault("epochs") == 3 and restored.getOrDefault("label") == "y"
