import pytest

from sparkdl.errors import ConfigError
from sparkdl.runtime.worker import task_placement, tensorflow_gpu_index


def test_cpu_task_gets_its_core_budget_and_default_device():
    placement = task_placement([], cpus=4)
    assert placement.device is None and placement.threads == 4 and placement.gpu is None


def test_gpu_task_uses_its_own_address():
    assert task_placement(["1"], cpus=1).device == "/GPU:1"
    assert task_placement(["3", "2"], cpus=2).device == "/GPU:3"


def test_address_is_mapped_through_cuda_visible_devices():
    assert tensorflow_gpu_index("6", "4,6") == 1
    with pytest.raises(ConfigError, match="CUDA_VISIBLE_DEVICES='4,5' hides it"):
        tensorflow_gpu_index("6", "4,5")
    with pytest.raises(ConfigError, match="not a CUDA ordinal"):
        tensorflow_gpu_index("GPU-abc", None)
