"""Image scoring through predict and jobs/batch_score.py, against decoding + tf.image.resize + the model
called directly: real JPEG/PNG/GIF/BMP files (scikit-learn's sample photos and Pillow-written ones)."""
import json
import os
import shutil

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

import sparkdl
from sparkdl import _cli
from sparkdl.errors import SchemaError
from tests.unit.test_images import encoded, expected
from tests.unit.test_job_flags import load_job

SIZE = (48, 40)


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """A directory of image files of several formats, sizes and modes, a text file, and a small CNN."""
    import keras
    from sklearn.datasets import images as sample_images

    root = tmp_path_factory.mktemp("photos")
    files = root / "files"
    (files / "nested").mkdir(parents=True)
    samples = os.path.dirname(sample_images.__file__)
    for name in ("china.jpg", "flower.jpg"):  # 427x640 RGB photos
        shutil.copy(os.path.join(samples, name), files / name)
    for name, (fmt, mode, width, height) in {"a.png": ("PNG", "RGBA", 40, 48), "b.gif": ("GIF", "L", 64, 20),
                                             "nested/c.bmp": ("BMP", "RGB", 33, 47),
                                             "d.jpeg": ("JPEG", "L", 40, 48)}.items():
        (files / name).write_bytes(encoded(fmt, mode, width, height, seed=len(name)))
    (files / "README.txt").write_text("not an image")
    keras.utils.set_random_seed(5)
    inputs = keras.Input((*SIZE, 3), name="pixels")
    hidden = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(6, 3, activation="relu")(inputs))
    model = keras.Model(inputs, keras.layers.Dense(3)(hidden))
    model.save(root / "cnn.keras")
    return files, model, str(root / "cnn.keras")


def reference(model, path, scale=1 / 255, offset=0.0):
    return model(expected(open(path, "rb").read(), SIZE, scale=scale, offset=offset)[None]).numpy()[0]


def test_binary_files_score_like_decoding_and_resizing_by_hand(spark, photos):
    files, model, keras_path = photos
    df = spark.read.format("binaryFile").option("pathGlobFilter", "*.{jpg,jpeg,png,gif,bmp}") \
        .option("recursiveFileLookup", "true").load(str(files))
    scored = sparkdl.predict(df, keras_path, keep=["path"],
                             inputs={"pixels": sparkdl.image("content", size=SIZE, scale=1 / 127.5, offset=-1.0)})
    rows = scored.collect()
    assert len(rows) == 6 and scored.columns == ["path", "prediction"]
    for row in rows:
        want = reference(model, row.path.removeprefix("file:"), scale=1 / 127.5, offset=-1.0)
        np.testing.assert_allclose(row.prediction, want, rtol=1e-4, atol=1e-5)


def test_spark_image_source_structs_are_scored_as_rgb(spark, photos, tmp_path):
    files, model, keras_path = photos
    pngs = tmp_path / "pngs"
    pngs.mkdir()
    for seed, (width, height) in enumerate([(40, 48), (70, 30)]):  # lossless: Java and TF decode alike
        (pngs / f"{seed}.png").write_bytes(encoded("PNG", "RGB", width, height, seed))
    df = spark.read.format("image").load(str(pngs))
    df = df.select("image", df.image.origin.alias("origin"))
    rows = sparkdl.predict(df, keras_path, keep=["origin"], inputs={"pixels": sparkdl.image("image", size=SIZE)}) \
        .collect()
    assert len(rows) == 2
    for row in rows:
        want = reference(model, row.origin.removeprefix("file://").removeprefix("file:"))
        np.testing.assert_allclose(row.prediction, want, rtol=1e-4, atol=1e-5)
    swapped = np.asarray(Image.open(pngs / "0.png"))[..., ::-1]  # what feeding BGR would have scored
    assert np.abs(model(swapped[None] / np.float32(255)).numpy()[0] - reference(model, pngs / "0.png")).max() > 1e-4


def test_a_wrong_size_or_column_is_refused_on_the_driver(spark, photos):
    files, _, keras_path = photos
    df = spark.read.format("binaryFile").load(str(files / "a.png"))
    with pytest.raises(SchemaError, match=r"makes float tensors of shape \(96, 96, 3\).*size=\(48, 40\)"):
        sparkdl.predict(df, keras_path, inputs={"pixels": sparkdl.image("content", size=96)})
    with pytest.raises(SchemaError, match="needs a binary column of image files .* column 'path' has type string"):
        sparkdl.predict(df, keras_path, inputs={"pixels": sparkdl.image("path", size=SIZE)})


def test_batch_job_scores_a_directory_of_images(spark, photos, tmp_path, capsys):
    """--image-glob picks the files (recursively), --image-scale / --image-offset the pixel values."""
    files, model, keras_path = photos
    output = tmp_path / "scored"
    code = _cli.run(load_job("batch_score").main, ["--model", keras_path, "--input", str(files), "--output",
                                                   str(output), "--input-format", "images", "--image-size", "48x40",
                                                   "--image-glob", "*.{png,gif,bmp,jpeg}", "--image-scale", "0.008",
                                                   "--image-offset", "-0.9"])
    assert code == 0, capsys.readouterr().err
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["rows"] == 4 and summary["bad_rows"] == 0 and summary["engine"] == "spark"
    table = pq.read_table(output)
    assert table.column_names == ["path", "prediction"]
    paths = [path.removeprefix("file:") for path in table.column("path").to_pylist()]
    assert sorted(os.path.relpath(path, files) for path in paths) == ["a.png", "b.gif", "d.jpeg", "nested/c.bmp"]
    for path, prediction in zip(paths, table.column("prediction").to_pylist()):
        want = reference(model, path, scale=0.008, offset=-0.9)
        assert np.abs(want - reference(model, path)).max() > 1e-3  # the flags change the predictions
        np.testing.assert_allclose(prediction, want, rtol=1e-4, atol=1e-5)


def test_batch_job_without_an_image_size_exits_2(spark, photos, tmp_path, capsys):
    files, _, keras_path = photos
    code = _cli.run(load_job("batch_score").main, ["--model", keras_path, "--input", str(files), "--output",
                                                   str(tmp_path / "out"), "--input-format", "images"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err == ["ConfigError: --input-format images needs --image-size HEIGHTxWIDTH (the model's "
                                 "input size, e.g. 96x96)"]
    assert not (tmp_path / "out").exists()
