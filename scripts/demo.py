"""`make demo`: generate data, train a small Keras model, score it with spark-submit, show the result.

Everything is built here (no downloads) under demo-output/.
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyspark

OUT = Path("demo-output").resolve()
ROWS = 200_000


def main() -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from sparkdl import examples
    from sparkdl.tf import example_models

    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir()
    print(f"1/3 writing {ROWS} rows (id, 64 features, label) to {OUT / 'input'}")
    table = examples.features_table(ROWS, (64,), seed=0)
    x = np.stack(table.column("features").to_numpy(zero_copy_only=False))
    labels = x[:, :10].argmax(axis=1).astype(np.int32)  # which of the first 10 features is largest
    examples.write_parquet(table.append_column("label", pa.array(labels)), OUT / "input", files=4)

    print("2/3 training a small Keras classifier on 20,000 of the rows")
    x, y = x[:20_000], labels[:20_000]
    model = example_models.mlp(64, 10, hidden=(64,))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=6, batch_size=256, verbose=0)
    model.save(OUT / "model.keras")
    print(f"    training accuracy {history.history['accuracy'][-1]:.3f}; saved {OUT / 'model.keras'}")

    print("3/3 spark-submit jobs/batch_score.py --master local[2] ...")
    spark_submit = os.path.join(os.path.dirname(pyspark.__file__), "bin", "spark-submit")
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable)
    done = subprocess.run([spark_submit, "--master", "local[2]", "--conf", "spark.ui.showConsoleProgress=false",
                           "jobs/batch_score.py", "--model", str(OUT / "model.keras"), "--input", str(OUT / "input"),
                           "--output", str(OUT / "predictions"), "--outputs", "output_0=class_probabilities"],
                          env=env, capture_output=True, text=True)
    if done.returncode != 0:
        print(done.stdout[-3000:], done.stderr[-3000:], sep="\n")
        return done.returncode
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"\nPredictions: {summary['output']} ({summary['rows']} rows, Parquet)")
    print(f"Throughput:  {summary['rows_per_second']:.0f} rows/s end to end on local[2] "
          f"({summary['seconds']:.1f} s, model loaded {summary['model_loads']}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
