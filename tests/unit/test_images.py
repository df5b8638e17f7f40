"""sparkdl.image: its options and the executor decoding, against TensorFlow called directly (no Spark)."""
import io

import numpy as np
import pyarrow as pa
import pytest
import tensorflow as tf
from PIL import Image
from pyspark.sql import types as T

import sparkdl
from sparkdl.errors import ConfigError, SchemaError, TensorError
from sparkdl.images import check_image
from sparkdl.signature import TensorSpec
from sparkdl.tf.image_decode import images_to_tensor

MODES = {"L": 1, "RGB": 3, "RGBA": 4}


def encoded(fmt: str, mode: str, width: int, height: int, seed: int = 0) -> bytes:
    """A real image file of random pixels, written by Pillow."""
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, MODES[mode]), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels[..., 0] if mode == "L" else pixels, mode).save(buffer, fmt)
    return buffer.getvalue()


def expected(content: bytes, size, channels=3, scale=1 / 255, offset=0.0) -> np.ndarray:
    """What a user computes by hand: decode, bilinear resize (unless at size), scale and offset."""
    pixels = tf.io.decode_image(content, channels=channels, expand_animations=False)
    pixels = tf.cast(pixels, tf.float32) if tuple(pixels.shape[:2]) == size else tf.image.resize(pixels, size)
    return pixels.numpy() * np.float32(scale) + np.float32(offset)


@pytest.mark.parametrize("fmt, mode", [("JPEG", "RGB"), ("JPEG", "L"), ("PNG", "RGBA"), ("PNG", "L"),
                                       ("GIF", "RGB"), ("BMP", "RGB")])
def test_files_of_several_formats_modes_and_sizes_decode_like_tensorflow(fmt, mode):
    contents = [encoded(fmt, mode, w, h, seed) for seed, (w, h) in enumerate([(32, 24), (24, 24), (61, 17)])]
    image = sparkdl.image("content", size=(24, 24), scale=1 / 127.5, offset=-1.0)
    got = images_to_tensor(pa.array(contents, pa.binary()), image, np.float32)
    assert got.shape == (3, 24, 24, 3) and got.dtype == np.float32
    for row, content in enumerate(contents):
        np.testing.assert_allclose(got[row], expected(content, (24, 24), scale=1 / 127.5, offset=-1.0), atol=1e-5)


@pytest.mark.parametrize("channels", [1, 4])
def test_images_are_converted_to_the_asked_channels(channels):
    contents = [encoded("PNG", "RGB", 16, 16), encoded("PNG", "L", 16, 16, 1)]
    got = images_to_tensor(pa.array(contents), sparkdl.image("c", size=16, channels=channels), np.float32)
    assert got.shape == (2, 16, 16, channels)
    for row, content in enumerate(contents):
        np.testing.assert_allclose(got[row], expected(content, (16, 16), channels=channels), atol=1e-6)


def spark_struct(pixels_rgb: np.ndarray) -> dict:
    """One row of Spark's image source: BGR(A) bytes, OpenCV mode code."""
    height, width, channels = pixels_rgb.shape
    order = {1: [0], 3: [2, 1, 0], 4: [2, 1, 0, 3]}[channels]
    return {"origin": "file:/x.png", "height": height, "width": width, "nChannels": channels,
            "mode": {1: 0, 3: 16, 4: 24}[channels], "data": pixels_rgb[..., order].tobytes()}


def test_spark_image_structs_are_converted_from_bgr_to_rgb_and_resized():
    rng = np.random.default_rng(3)
    rgb = [rng.integers(0, 256, shape, dtype=np.uint8) for shape in [(20, 20, 3), (30, 10, 3), (20, 20, 4)]]
    column = pa.array([spark_struct(p) for p in rgb])
    got = images_to_tensor(column, sparkdl.image("image", size=(20, 20)), np.float32)
    np.testing.assert_allclose(got[0], rgb[0] / np.float32(255), atol=1e-6)  # RGB, not BGR
    np.testing.assert_allclose(got[1], tf.image.resize(rgb[1], (20, 20)).numpy() / np.float32(255), atol=1e-5)
    np.testing.assert_allclose(got[2], rgb[2][..., :3] / np.float32(255), atol=1e-6)  # alpha dropped


@pytest.mark.parametrize("have, want", [(3, 3), (4, 3), (1, 3), (3, 1), (3, 4)])
def test_same_size_spark_structs_convert_as_one_batch_like_row_by_row(monkeypatch, have, want):
    """Structs already at the model's size skip the per-row path: same values, RGB order, channels."""
    from sparkdl.tf import image_decode

    rng = np.random.default_rng(have * 10 + want)
    rgb = rng.integers(0, 256, (5, 12, 9, have), dtype=np.uint8)
    column = pa.array([spark_struct(p) for p in rgb]).slice(1, 3)  # a slice: offsets into the data buffer
    image = sparkdl.image("image", size=(12, 9), channels=want, scale=1 / 127.5, offset=-1.0)
    rows = rgb[1:4]
    if want == 1:
        reference = tf.image.rgb_to_grayscale(rows).numpy()
    elif have == 1:
        reference = np.repeat(rows, 3, axis=-1)
    else:
        reference = rows[..., :3]
    if want == 4:
        reference = np.concatenate([reference, np.full((3, 12, 9, 1), 255, np.uint8)], axis=-1)
    monkeypatch.setattr(image_decode, "_struct_image", lambda *args: pytest.fail("converted row by row"))
    got = images_to_tensor(column, image, np.float32)
    assert got.shape == (3, 12, 9, want)
    np.testing.assert_allclose(got, reference / np.float32(127.5) - 1, atol=1e-6)


def test_an_undecodable_file_raises_naming_its_row_and_cause():
    contents = [encoded("PNG", "RGB", 8, 8), b"this is not an image", encoded("JPEG", "RGB", 8, 8)[:40]]
    with pytest.raises(TensorError, match=r"column 'content': cannot decode the image \(20 bytes\): Unknown image "
                                          r"file format") as caught:
        images_to_tensor(pa.array(contents), sparkdl.image("content", size=8), np.float32)
    assert caught.value.row == 1


def test_a_null_image_and_an_invalid_spark_image_raise_with_their_row():
    with pytest.raises(TensorError, match="the image is null") as caught:
        images_to_tensor(pa.array([encoded("PNG", "RGB", 8, 8), None]), sparkdl.image("c", size=8), np.float32)
    assert caught.value.row == 1
    invalid = {"origin": "file:/bad.jpg", "height": -1, "width": -1, "nChannels": -1, "mode": -1, "data": b""}
    column = pa.array([spark_struct(np.zeros((8, 8, 3), np.uint8)), invalid])
    with pytest.raises(TensorError, match="not a readable 8-bit image") as caught:
        images_to_tensor(column, sparkdl.image("image", size=8), np.float32)
    assert caught.value.row == 1


@pytest.mark.parametrize("options, message", [
    (dict(size=(0, 4)), r"image size must be \(height, width\) in pixels"),
    (dict(size="96by96"), "image size must look like 96x96"),
    (dict(size=8, channels=2), r"image channels must be one of \(1, 3, 4\), got 2"),
    (dict(size=8, scale=float("nan")), "image scale must be a finite number"),
])
def test_bad_image_options_are_config_errors(options, message):
    with pytest.raises(ConfigError, match=message):
        sparkdl.image("content", **options)


def test_size_text_and_square_sizes():
    assert sparkdl.image("c", size="96x64").size == (96, 64)
    assert sparkdl.image("c", size=32).size == (32, 32)


def test_the_column_and_the_model_input_are_checked_on_the_driver():
    image = sparkdl.image("content", size=(32, 32))
    spec = TensorSpec("input_layer", (None, 32, 32, 3), "float32")
    check_image(spec, T.StructField("content", T.BinaryType()), image)  # fits
    with pytest.raises(SchemaError, match="needs a binary column of image files .* column 'content' has type string"):
        check_image(spec, T.StructField("content", T.StringType()), image)
    with pytest.raises(SchemaError, match=r"makes float tensors of shape \(32, 32, 3\), but model input "
                                          r"'input_layer' float32\[64, 64, 3\].*size=\(64, 64\)"):
        check_image(TensorSpec("input_layer", (None, 64, 64, 3), "float32"),
                    T.StructField("content", T.BinaryType()), image)
