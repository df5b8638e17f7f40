"""FileSource: files per trigger, and an empty directory without a schema (local Spark)."""
import pytest

import sparkdl
from sparkdl.errors import ConfigError
from tests import models

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def keras_path(tmp_path_factory):
    return models.save_both(models.mlp(8, 3, seed=12), tmp_path_factory.mktemp("files") / "mlp")[1]


def test_empty_directory_without_schema_is_a_config_error_naming_schema(spark, keras_path, tmp_path):
    (tmp_path / "in").mkdir()
    with pytest.raises(ConfigError, match="schema="):
        sparkdl.score_stream(spark, keras_path, source=sparkdl.FileSource(str(tmp_path / "in")),
                             sink=sparkdl.ParquetSink(str(tmp_path / "out")), checkpoint_location=str(tmp_path / "c"))


def test_record_limit_on_files_names_max_files_per_trigger(spark, keras_path, tmp_path):
    (tmp_path / "in").mkdir()
    source = sparkdl.FileSource(str(tmp_path / "in"), schema="features array<float>")
    with pytest.raises(ConfigError, match="max_files_per_trigger"):
        sparkdl.score_stream(spark, keras_path, source=source, sink=sparkdl.ParquetSink(str(tmp_path / "out")),
                             checkpoint_location=str(tmp_path / "c"), max_records_per_trigger=10)


def test_max_files_per_trigger_bounds_each_batch(spark, keras_path, tmp_path):
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "in").mkdir()
    for i in range(4):
        features = np.full((5, 8), float(i), np.float32).tolist()
        pq.write_table(pa.table({"features": pa.array(features, pa.list_(pa.float32()))}),
                       tmp_path / "in" / f"part-{i}.parquet")
    query = sparkdl.score_stream(spark, keras_path, source=sparkdl.FileSource(str(tmp_path / "in"),
                                                                             max_files_per_trigger=2),
                                 sink=sparkdl.ParquetSink(str(tmp_path / "out")), available_now=True,
                                 checkpoint_location=str(tmp_path / "c"))
    assert query.awaitTermination(120)
    assert len(list((tmp_path / "out").glob("batch_id=*"))) == 2
    assert spark.read.parquet(str(tmp_path / "out")).count() == 20
    with pytest.raises(ConfigError, match="max_files_per_trigger"):
        sparkdl.FileSource(str(tmp_path / "in"), max_files_per_trigger=0)
