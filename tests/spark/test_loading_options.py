"""Loading options where the predict/train tests do not reach them: register_udf(imports=, signature=),
score_files(signature=), score_stream(imports=) on a FileSource, and jobs/batch_score.py --import /
--signature called in process. Each `imports=` check has a layer module of its own that nothing else
imports, so it fails if the option does not reach the driver or the executors."""
import subprocess
import sys
import uuid

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import sparkdl
from sparkdl.jobs import batch_score
from tests.spark.test_model_formats import _two_signatures
from tests.spark.test_train_loading import LAYER

pytestmark = pytest.mark.slow

USES = ("udf", "stream", "job")  # one layer module (and model) per check of `imports=`


@pytest.fixture(scope="module")
def setup(spark, tmp_path_factory):
    """(root, Parquet directory of id/x/zeta rows, SavedModel with two signatures, {use: (module, .keras path,
    expected predictions)}); the models are saved and scored by another process, the modules reach this
    driver and the executors only through addPyFile."""
    root = tmp_path_factory.mktemp("loading_options")
    x = np.random.default_rng(8).normal(size=(8, 4)).astype(np.float32)
    np.save(root / "x.npy", x)
    (root / "data").mkdir()
    pq.write_table(pa.table({"id": pa.array(range(8), pa.int64()), "x": pa.array(list(x), pa.list_(pa.float32())),
                             "zeta": pa.array(x[:, 0])}), root / "data" / "part-0.parquet")
    layers, script = {}, ["import keras, numpy as np", f"x = np.load({str(root / 'x.npy')!r})"]
    for seed, use in enumerate(USES):
        module = f"sparkdl_test_load_{use}_{uuid.uuid4().hex[:8]}"
        (root / f"{module}.py").write_text(LAYER.format(package=module))
        path = str(root / f"{use}.keras")
        script += [f"import {module}", f"keras.utils.set_random_seed({seed})", "i = keras.Input((4,), name='x')",
                   f"m = keras.Model(i, {module}.Shift({seed + 0.5})(keras.layers.Dense(1)(i)))",
                   f"m.save({path!r})", f"np.save({str(root / use)!r} + '.npy', m(x).numpy())"]
        layers[use] = (module, path)
    subprocess.run([sys.executable, "-c", "\n".join(script)], check=True, capture_output=True, cwd=root)
    for module, _ in layers.values():
        spark.sparkContext.addPyFile(str(root / f"{module}.py"))
    _two_signatures(str(root / "sigs"))
    return (root, str(root / "data"), str(root / "sigs"),
            {use: (module, path, np.load(root / f"{use}.npy")) for use, (module, path) in layers.items()})


def test_register_udf_with_imports_and_with_a_signature(spark, setup):
    _, data, sigs, layers = setup
    module, path, expected = layers["udf"]
    with pytest.raises(sparkdl.ModelFormatError, match=r"imports=\['module'\]"):
        sparkdl.register_udf(spark, "b_shifted", path)
    sparkdl.register_udf(spark, "b_shifted", path, imports=[module])
    sparkdl.register_udf(spark, "b_twice", sigs, signature="double")  # serving_default takes (zeta, alpha)
    spark.read.parquet(data).createOrReplaceTempView("b_loading")
    rows = spark.sql("SELECT id, zeta, b_shifted(x) AS shifted, b_twice(zeta) AS twice FROM b_loading "
                     "ORDER BY id").collect()
    np.testing.assert_allclose([r.shifted for r in rows], expected, rtol=1e-5, atol=1e-6)
    assert [r.twice for r in rows] == [r.zeta * 2 for r in rows]
    from pyspark.errors import PythonException

    with pytest.raises(PythonException, match=r"SchemaError: UDF b_twice takes 1 argument\(s\), the model inputs in "
                                              r"declared order \[\"'zeta' float32\[\]\"\], but got 2"):
        spark.sql("SELECT b_twice(zeta, zeta) FROM b_loading").collect()  # SQL calls: counted in the task


def test_score_files_with_a_signature(spark, setup, tmp_path):
    _, data, sigs, _ = setup
    summary = sparkdl.score_files(spark, sigs, data, str(tmp_path / "out"), keep=["id", "zeta"], signature="double")
    assert summary["rows"] == 8
    written = pq.read_table(tmp_path / "out").to_pydict()
    assert written["prediction"] == [zeta * 2 for zeta in written["zeta"]]


def test_score_stream_with_imports_on_a_file_source(spark, setup, tmp_path):
    _, data, _, layers = setup
    module, path, expected = layers["stream"]
    options = dict(source=sparkdl.FileSource(data), sink=sparkdl.ParquetSink(str(tmp_path / "out")),
                   checkpoint_location=str(tmp_path / "ckpt"), available_now=True)
    with pytest.raises(sparkdl.ModelFormatError, match=r"imports=\['module'\]"):
        sparkdl.score_stream(spark, path, **options)
    query = sparkdl.score_stream(spark, path, imports=[module], **options)
    assert query.awaitTermination(120) and query.exception() is None
    rows = spark.read.parquet(str(tmp_path / "out")).orderBy("id").collect()
    np.testing.assert_allclose([r.prediction for r in rows], expected, rtol=1e-5, atol=1e-6)


def test_batch_job_import_and_signature_flags(spark, setup, tmp_path):
    _, data, sigs, layers = setup
    module, path, expected = layers["job"]
    flags = ["--input", data, "--keep", "id,zeta"]
    with pytest.raises(sparkdl.ModelFormatError, match=r"imports=\['module'\]"):
        batch_score.main(["--model", path, "--output", str(tmp_path / "none"), *flags])
    summary = batch_score.main(["--model", path, "--output", str(tmp_path / "shifted"), "--import", module, *flags])
    assert summary["rows"] == 8
    written = pq.read_table(tmp_path / "shifted").to_pydict()
    np.testing.assert_allclose([written["prediction"][written["id"].index(i)] for i in range(8)], expected,
                               rtol=1e-5, atol=1e-6)
    summary = batch_score.main(["--model", sigs, "--output", str(tmp_path / "twice"), "--signature", "double", *flags])
    assert summary["rows"] == 8
    written = pq.read_table(tmp_path / "twice").to_pydict()
    assert written["prediction"] == [zeta * 2 for zeta in written["zeta"]]
