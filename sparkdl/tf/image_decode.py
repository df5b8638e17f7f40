"""Executor side: an Arrow image column -> a (rows, height, width, channels) float tensor.

Encoded files (binary column) are decoded by one compiled TensorFlow function per batch
(`tf.map_fn` over the rows, decode + bilinear resize, run in parallel on the task's threads).
Spark image structs hold raw BGR(A) pixels, which numpy reorders to RGB(A) without decoding: when
every image of the batch is already at the model's size with one channel layout, as one
(rows, h, w, c) view over the Arrow data buffer; otherwise row by row (resized one at a time).
An image that cannot be used raises TensorError with its row; the caller names it or nulls it.
"""
from __future__ import annotations

import functools
import re

import numpy as np
import pyarrow as pa
import tensorflow as tf

from ..errors import TensorError
from ..images import ImageInput

# OpenCV type codes in Spark's image struct `mode`: 8-bit unsigned, 1/3/4 channels
_SPARK_MODES = {0: 1, 16: 3, 24: 4}


def images_to_tensor(array, image: ImageInput, dtype) -> np.ndarray:
    """Decode one Arrow column of images to `dtype` values `pixel * scale + offset`."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if array.null_count:
        first = int(np.argmax(np.asarray(array.is_null().to_numpy(zero_copy_only=False))))
        raise TensorError(f"column '{image.column}': the image is null; drop or fill nulls before scoring "
                          f"(or pass on_error='null')", row=first)
    if pa.types.is_struct(array.type):
        pixels = _struct_pixels(array, image)
    else:
        pixels = _decoded(array, image)
    pixels *= np.float32(image.scale)
    pixels += np.float32(image.offset)
    return pixels.astype(dtype, copy=False)


@functools.lru_cache(maxsize=8)
def _decoder(size: tuple, channels: int):
    """A compiled function: a vector of encoded images -> float32 (n, *size, channels)."""

    def one(content):
        pixels = tf.io.decode_image(content, channels=channels, expand_animations=False)
        pixels.set_shape([None, None, channels])
        return _resized(pixels, size)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def decode(contents):
        return tf.map_fn(one, contents, fn_output_signature=tf.TensorSpec((*size, channels), tf.float32),
                         parallel_iterations=16)

    return decode


def _resized(pixels, size):
    """uint8 (h, w, c) -> float32 (*size, c): `tf.image.resize` bilinear unless already at `size`."""
    same = tf.reduce_all(tf.equal(tf.shape(pixels)[:2], size))
    return tf.cond(same, lambda: tf.cast(pixels, tf.float32), lambda: tf.image.resize(pixels, size))


def _decoded(array: pa.Array, image: ImageInput) -> np.ndarray:
    """Decode a binary column; on failure find the first bad row and raise TensorError for it."""
    contents = array.to_numpy(zero_copy_only=False)
    decode = _decoder(image.size, image.channels)
    if not len(contents):
        return np.zeros((0, *image.size, image.channels), np.float32)
    with tf.device("/CPU:0"):
        try:
            return decode(tf.constant(contents, tf.string)).numpy()
        except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError):
            pass
        for row, content in enumerate(contents):
            try:
                tf.io.decode_image(content, channels=image.channels, expand_animations=False)
            except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError) as error:
                cause = re.sub(r"\{\{.*?\}\}|\[Op:.*?\]", "", error.message).strip()
                raise TensorError(f"column '{image.column}': cannot decode the image ({len(content)} bytes): "
                                  f"{cause}", row=row) from None
    raise TensorError(f"column '{image.column}': the images decode one by one but not as a batch", row=0)


def _struct_pixels(array: pa.StructArray, image: ImageInput) -> np.ndarray:
    """Spark image structs (BGR, 8-bit) -> RGB(A)/gray float32 at `image.size`."""
    batch = _same_size_batch(array, image)
    if batch is not None:
        return _converted(_rgb(batch), image.channels).astype(np.float32)
    fields = {name: array.field(name).to_numpy(zero_copy_only=False) for name in ("height", "width", "nChannels",
                                                                                  "mode", "data")}
    images = [_struct_image(image, row, *(fields[name][row] for name in ("height", "width", "nChannels", "mode",
                                                                           "data")))
              for row in range(len(array))]
    out = np.empty((len(images), *image.size, image.channels), np.float32)
    with tf.device("/CPU:0"):
        for row, pixels in enumerate(images):
            if pixels.shape[:2] == image.size:
                out[row] = pixels
            else:
                out[row] = tf.image.resize(pixels, image.size).numpy()
    return out


def _same_size_batch(array: pa.StructArray, image: ImageInput):
    """The structs' BGR(A)/gray uint8 pixels as one (rows, h, w, c) view over the `data` buffer, when
    every image is readable, already at `image.size` and of one mode; else None (the row-by-row path
    resizes the others and names the unreadable ones)."""
    rows, (height, width) = len(array), image.size
    fields = {name: array.field(name) for name in ("height", "width", "nChannels", "mode", "data")}
    if not rows or any(field.null_count for field in fields.values()):
        return None
    values = {name: fields[name].to_numpy() for name in ("height", "width", "nChannels", "mode")}
    mode = int(values["mode"][0])
    channels = _SPARK_MODES.get(mode)
    if channels is None or not ((values["mode"] == mode).all() and (values["height"] == height).all() and
                                (values["width"] == width).all() and (values["nChannels"] == channels).all()):
        return None
    data = fields["data"]
    if not (pa.types.is_binary(data.type) or pa.types.is_large_binary(data.type)):
        return None  # e.g. binary_view: no offsets buffer to read
    offset_type = np.int64 if pa.types.is_large_binary(data.type) else np.int32
    offsets = np.frombuffer(data.buffers()[1], offset_type)[data.offset:data.offset + rows + 1]
    size = height * width * channels
    if (np.diff(offsets) != size).any():
        return None
    return np.frombuffer(data.buffers()[2], np.uint8, count=rows * size, offset=int(offsets[0])) \
        .reshape(rows, height, width, channels)


def _rgb(pixels: np.ndarray) -> np.ndarray:
    """BGR(A) (or gray) pixels, channels last, in RGB(A) order (a view)."""
    channels = pixels.shape[-1]
    if channels == 3:
        return pixels[..., ::-1]
    if channels == 4:
        return pixels[..., [2, 1, 0, 3]]
    return pixels


def _struct_image(image: ImageInput, row: int, height, width, channels, mode, data) -> np.ndarray:
    """One struct's pixels as uint8 (h, w, image.channels) in RGB(A) order."""
    if mode not in _SPARK_MODES or height is None or height <= 0 or width <= 0 or _SPARK_MODES[mode] != channels:
        raise TensorError(f"column '{image.column}': not a readable 8-bit image (height={height}, width={width}, "
                          f"nChannels={channels}, mode={mode}); Spark marks files it cannot decode this way",
                          row=row)
    if data is None or len(data) != height * width * channels:
        raise TensorError(f"column '{image.column}': the image data holds {len(data or b'')} bytes, not "
                          f"{height}x{width}x{channels}", row=row)
    return _converted(_rgb(np.frombuffer(data, np.uint8).reshape(height, width, channels)), image.channels)


def _converted(pixels: np.ndarray, channels: int) -> np.ndarray:
    """RGB(A)/gray uint8 pixels, channels last (one image or a batch), with `channels` channels (gray
    replicated, alpha dropped or opaque)."""
    have = pixels.shape[-1]
    if have == channels:
        return pixels
    if have == 4:
        pixels, have = pixels[..., :3], 3
    if channels == 1:
        return tf.image.rgb_to_grayscale(pixels).numpy() if have == 3 else pixels
    if have == 1:
        pixels = np.repeat(pixels, 3, axis=-1)
    if channels == 4:
        pixels = np.concatenate([pixels, np.full(pixels.shape[:-1] + (1,), 255, np.uint8)], axis=-1)
    return pixels
