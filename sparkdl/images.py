"""`sparkdl.image(...)`: an image column (encoded files or Spark's image struct) as a model input.

Built and checked on the driver; the decoding itself runs in the scoring task on the executors
(`sparkdl.tf.image_decode`), batched, with no round trip through the JVM:

    files = spark.read.format("binaryFile").load("hdfs:///photos/")
    sparkdl.predict(files, "model.keras", keep=["path"],
                    inputs={"input_layer": sparkdl.image("content", size=(96, 96), scale=1/127.5, offset=-1.0)})

A `binary` column holds JPEG / PNG / GIF / BMP file bytes (a `binaryFile` source's `content`); a
struct column with Spark's image fields (`spark.read.format("image")`, pixels in BGR order) is
converted to RGB. Pixels (0..255) are resized to `size` with `tf.image.resize` (bilinear) when
not already at it, converted to `channels`, and fed as `value * scale + offset`.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Tuple

from .errors import ConfigError, SchemaError

SPARK_IMAGE_FIELDS = ("height", "width", "nChannels", "mode", "data")
CHANNELS = (1, 3, 4)


@dataclass(frozen=True)
class ImageInput:
    """How one image column becomes a model input: (rows, height, width, channels) floats."""

    column: str
    size: Tuple[int, int]  # (height, width)
    channels: int = 3
    scale: float = 1 / 255
    offset: float = 0.0

    def describe(self) -> str:
        return f"image('{self.column}', size={self.size}, channels={self.channels})"


def parse_size(size) -> Tuple[int, int]:
    """(height, width) from a pair of ints, one int (a square) or text like '96x96' / '96'."""
    if isinstance(size, str):
        match = re.fullmatch(r"\s*(\d+)\s*(?:[xX,]\s*(\d+))?\s*", size)
        if not match:
            raise ConfigError(f"image size must look like 96x96 (height x width), got {size!r}")
        size = (int(match.group(1)), int(match.group(2) or match.group(1)))
    if isinstance(size, int) and not isinstance(size, bool):
        size = (size, size)
    if not (isinstance(size, (tuple, list)) and len(size) == 2 and
            all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in size)):
        raise ConfigError(f"image size must be (height, width) in pixels, e.g. (96, 96), got {size!r}")
    return int(size[0]), int(size[1])


def image(column: str, *, size, channels: int = 3, scale: float = 1 / 255, offset: float = 0.0) -> ImageInput:
    """An image input for `inputs=`: decode `column` in the scoring task (driver builds it).

    column: a binary column of encoded image files, or a Spark image struct column.
    size: (height, width) the model takes; other images are resized (bilinear, `tf.image.resize`).
    channels: 1 (grayscale), 3 (RGB) or 4 (RGBA); images are converted to it.
    scale, offset: each pixel value v (0..255) is fed as v * scale + offset (default: 0..1).
    """
    if not isinstance(column, str) or not column:
        raise ConfigError(f"image(column, ...) needs a column name, got {column!r}")
    if channels not in CHANNELS:
        raise ConfigError(f"image channels must be one of {CHANNELS}, got {channels!r}")
    for name, value in (("scale", scale), ("offset", offset)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ConfigError(f"image {name} must be a finite number, got {value!r}")
    return ImageInput(column, parse_size(size), channels, float(scale), float(offset))


def is_image_struct(data_type) -> bool:
    """Whether a Spark type is (a superset of) Spark's image struct (`spark.read.format('image')`)."""
    names = getattr(data_type, "names", None)
    return bool(names) and all(field in names for field in SPARK_IMAGE_FIELDS)


def check_image(spec, field, image_input: ImageInput) -> None:
    """Driver: raise SchemaError unless column `field` decoded as `image_input` fits model input `spec`."""
    from pyspark.sql import types as T

    if not (isinstance(field.dataType, T.BinaryType) or is_image_struct(field.dataType)):
        raise SchemaError(f"{image_input.describe()} needs a binary column of image files (spark.read.format("
                          f"'binaryFile'), column 'content') or a Spark image struct (spark.read.format('image'), "
                          f"column 'image'), but column '{field.name}' has type {field.dataType.simpleString()}")
    want = (*image_input.size, image_input.channels)
    shape = tuple(spec.inner_shape)
    fits = len(shape) == 3 and all(d is None or d == w for d, w in zip(shape, want))
    if not fits or spec.numpy_dtype.kind != "f":
        raise SchemaError(f"{image_input.describe()} makes float tensors of shape {want}, but model input "
                          f"{spec.describe()} takes another shape or dtype; pass the model's size and channels "
                          f"(e.g. size=({shape[0] if len(shape) == 3 else 'h'}, "
                          f"{shape[1] if len(shape) == 3 else 'w'}))")
