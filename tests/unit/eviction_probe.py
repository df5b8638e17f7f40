"""Run in a fresh interpreter by test_worker_cache: load 6 models through the executor's worker
cache (4 entries) and print, as JSON, which loaded models are still alive and the RSS at each step."""
import gc
import json
import sys
import weakref
from pathlib import Path

import keras
from pyspark import SparkFiles

from sparkdl.model_archive import pack
from sparkdl.runtime import models as runtime_models


class Bytes:
    def __init__(self, value):
        self.value = value


class Counter:
    def __init__(self):
        self.value = 0

    def add(self, n):
        self.value += n


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main(work: Path):
    SparkFiles._root_directory, SparkFiles._is_running_on_worker = str(work / "files"), True
    counter, refs, alive = Counter(), [], []
    for i in range(6):
        inputs = keras.Input((1000,))
        keras.Model(inputs, keras.layers.Dense(12000 + i)(inputs)).save(work / f"m{i}.keras")  # 48 MB each
        archive = pack(str(work / f"m{i}.keras"))
        refs.append(runtime_models.ModelRef(archive.fingerprint, archive.kind, archive.name, Bytes(archive.data),
                                            counter))
    keras.backend.clear_session()
    gc.collect()
    rss = [rss_mb()]
    for ref in refs:
        loaded = runtime_models.get_model(ref, None)
        alive.append(weakref.ref(loaded._function._sparkdl_owner))  # the Keras model behind it
        del loaded
        rss.append(rss_mb())
    print(json.dumps({"alive": [r() is not None for r in alive], "rss": rss, "loads": counter.value,
                      "frozen": gc.get_freeze_count()}))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
