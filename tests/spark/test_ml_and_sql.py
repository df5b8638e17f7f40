"""TFTransformer in a persisted Pipeline, and the SQL UDF."""
import shutil

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


def test_transformer_with_measured_batch_size_saves_and_loads(spark, tmp_path, mlp, rng):
    model, keras_path, _ = mlp
    x = rng.normal(size=(40, 8)).astype(np.float32)
    df = spark.createDataFrame([(i, x[i].tolist()) for i in range(40)], "id long, features array<float>")
    sparkdl.TFTransformer(model=keras_path).write().overwrite().save(str(tmp_path / "stage"))
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
