import numpy as np
import pyarrow as pa
import pytest

from sparkdl.errors import TensorError
from sparkdl.tensors import column_to_tensor, tensor_to_binary_column, tensor_to_column


def test_list_column_becomes_2d_array_without_copying_values():
    values = np.arange(12, dtype=np.float32)
    column = pa.ListArray.from_arrays(pa.array([0, 4, 8, 12], pa.int32()), pa.array(values))
    tensor = column_to_tensor(column, "x", np.float32, (4,))
    assert tensor.shape == (3, 4)
    assert np.array_equal(tensor, values.reshape(3, 4))
    assert np.shares_memory(tensor, column.values.to_numpy())


def test_nested_lists_become_4d_array():
    images = np.random.default_rng(0).normal(size=(5, 4, 4, 3)).astype(np.float32)
    column = pa.array(images.tolist(), pa.list_(pa.list_(pa.list_(pa.float32()))))
    tensor = column_to_tensor(column, "image", np.float32, (4, 4, 3))
    assert np.array_equal(tensor, images)


def test_fixed_size_list_and_sliced_batches():
    flat = pa.array(np.arange(20, dtype=np.float32))
    fixed = pa.FixedSizeListArray.from_arrays(flat, 4)
    assert column_to_tensor(fixed.slice(2, 2), "x", np.float32, (4,)).tolist() == [[8, 9, 10, 11], [12, 13, 14, 15]]
    listed = pa.array(np.arange(20, dtype=np.float32).reshape(10, 2).tolist(), pa.list_(pa.float32()))
    assert column_to_tensor(listed.slice(3, 2), "x", np.float32, (2,)).tolist() == [[6, 7], [8, 9]]


def test_scalar_column_and_float64_to_float32():
    tensor = column_to_tensor(pa.array([1.5, 2.5], pa.float64()), "x", np.float32, ())
    assert tensor.dtype == np.float32 and tensor.tolist() == [1.5, 2.5]


def test_int_to_float_is_allowed_float_to_int_is_not():
    assert column_to_tensor(pa.array([[1, 2]], pa.list_(pa.int64())), "x", np.float32, (2,)).dtype == np.float32
    with pytest.raises(TensorError, match="round and cast"):
        column_to_tensor(pa.array([1.5]), "x", np.int32, ())


def test_empty_batch_gives_empty_tensor_of_the_model_shape():
    tensor = column_to_tensor(pa.array([], pa.list_(pa.float32())), "x", np.float32, (4,))
    assert tensor.shape == (0, 4)


def test_null_row_is_a_clear_error_naming_the_row():
    column = pa.array([[1.0, 2.0], None, [3.0, 4.0]], pa.list_(pa.float32()))
    with pytest.raises(TensorError, match=r"column 'x': a row is null.*na.drop") as caught:
        column_to_tensor(column, "x", np.float32, (2,))
    assert caught.value.row == 1


def test_null_value_inside_a_row_is_an_error():
    column = pa.array([[1.0, 2.0], [3.0, 4.0], [1.0, None]], pa.list_(pa.float32()))
    with pytest.raises(TensorError, match="null") as caught:
        column_to_tensor(column, "x", np.float32, (2,))
    assert caught.value.row == 2


def test_ragged_rows_are_a_clear_error():
    column = pa.array([[1.0, 2.0], [1.0, 2.0], [3.0]], pa.list_(pa.float32()))
    with pytest.raises(TensorError, match=r"different lengths at nesting level 1 \(2 and 1\)") as caught:
        column_to_tensor(column, "x", np.float32, (None,))
    assert caught.value.row == 2
    nested = pa.array([[[1.0], [2.0]], [[1.0], [2.0, 3.0]]], pa.list_(pa.list_(pa.float32())))
    with pytest.raises(TensorError, match="nesting level 2") as caught:
        column_to_tensor(nested, "x", np.float32, (2, None))
    assert caught.value.row == 1


def test_wrong_length_and_rank_name_the_expected_shape():
    column = pa.array([[1.0, 2.0, 3.0]], pa.list_(pa.float32()))
    with pytest.raises(TensorError, match="hold 3 values .* expects 4"):
        column_to_tensor(column, "x", np.float32, (4,))
    nested = pa.array([[[1.0, 2.0]]], pa.list_(pa.list_(pa.float32())))
    with pytest.raises(TensorError, match="2-d but the model expects 1-d"):
        column_to_tensor(nested, "x", np.float32, (2,))


def test_strings_are_refused():
    with pytest.raises(TensorError, match="cannot feed"):
        column_to_tensor(pa.array(["a"]), "x", np.float32, ())


@pytest.mark.parametrize("shape", [(3,), (3, 4), (2, 3, 4), (0, 5), (4, 2, 2, 3)])
def test_tensor_round_trips_through_a_column(shape):
    values = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    column = tensor_to_column(values)
    assert len(column) == shape[0]
    assert np.array_equal(column_to_tensor(column, "y", np.float32, shape[1:]), values)


def test_output_column_shares_memory_with_the_tensor():
    values = np.ones((4, 3), np.float32)
    column = tensor_to_column(values)
    assert np.shares_memory(column.values.to_numpy(), values)


def test_flat_column_feeds_an_nd_input_as_a_view():
    values = np.arange(2 * 12, dtype=np.float32)
    column = pa.ListArray.from_arrays(pa.array([0, 12, 24], pa.int32()), pa.array(values))
    tensor = column_to_tensor(column, "image", np.float32, (2, 2, 3))
    assert tensor.shape == (2, 2, 2, 3) and np.array_equal(tensor.reshape(-1), values)
    assert np.shares_memory(tensor, column.values.to_numpy())
    with pytest.raises(TensorError, match="hold 12 values .* expects 24"):
        column_to_tensor(column, "image", np.float32, (2, 3, 4))


def test_binary_column_of_raw_bytes_is_a_zero_copy_tensor():
    images = np.random.default_rng(1).normal(size=(6, 2, 2, 3)).astype(np.float32)
    column = tensor_to_binary_column(images)
    assert column.type == pa.binary() and len(column[0].as_py()) == 48
    tensor = column_to_tensor(column.slice(2, 3), "image", np.float32, (2, 2, 3))
    assert np.array_equal(tensor, images[2:5])
    assert np.shares_memory(tensor, images)


def test_binary_rows_of_the_wrong_size_or_null_are_errors():
    column = pa.array([b"\0" * 8, b"\0" * 6], pa.binary())
    with pytest.raises(TensorError, match=r"a row holds 6 bytes but a float32 tensor of shape \(2,\)") as caught:
        column_to_tensor(column, "x", np.float32, (2,))
    assert caught.value.row == 1
    with pytest.raises(TensorError, match="a row is null"):
        column_to_tensor(pa.array([None], pa.binary()), "x", np.float32, (2,))
    with pytest.raises(TensorError, match="fixed dimensions"):
        column_to_tensor(column, "x", np.float32, (None,))


def test_scalar_column_feeds_shape_1_and_1_1_inputs():
    column = pa.array([1.5, 2.5, 3.5])
    assert column_to_tensor(column, "x", np.float32, (1,)).tolist() == [[1.5], [2.5], [3.5]]
    assert column_to_tensor(column, "x", np.float32, (1, 1)).shape == (3, 1, 1)
    with pytest.raises(TensorError, match="0-d"):
        column_to_tensor(column, "x", np.float32, (2,))


def test_integer_overflow_is_an_error_naming_column_value_and_row():
    with pytest.raises(TensorError, match=r"'code'.*2147483653") as caught:
        column_to_tensor(pa.array([1, -3, 2**31 + 5], pa.int64()), "code", np.int32, ())
    assert caught.value.row == 2
    with pytest.raises(TensorError, match="-1"):
        column_to_tensor(pa.array([[0, -1]], pa.list_(pa.int32())), "ids", np.uint8, (2,))
    assert column_to_tensor(pa.array([2**31 - 1], pa.int64()), "c", np.int32, ()).tolist() == [2**31 - 1]


def test_string_columns_feed_string_inputs():
    scalar = column_to_tensor(pa.array(["a", "é"]), "s", np.dtype(object), (1,))
    assert scalar.shape == (2, 1) and scalar[1, 0] == "é"
    nested = column_to_tensor(pa.array([["a", "b"], ["c", "d"]]), "s", np.dtype(object), (2,))
    assert nested.tolist() == [["a", "b"], ["c", "d"]]
    with pytest.raises(TensorError, match="string column"):
        column_to_tensor(pa.array([1.0]), "s", np.dtype(object), ())
