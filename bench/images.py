"""Image benchmark: images/s scoring a directory of JPEG files with MobileNetV2, measured in ONE run.

  (u) the route users take today: spark.read.format("binaryFile"), a pandas_udf that decodes each
      file with PIL (convert("RGB"), resize to 96x96 bilinear, scale to [-1, 1]) and returns a flat
      array<float> (27648 values), fed to pyspark.ml.functions.predict_batch_udf with a compiled
      predict function (a tf.function over the Keras model with a fixed input signature, so varying
      batch sizes do not retrace; one TensorFlow thread per worker, as sparkdl uses; input_tensor_shapes
      reshapes to (96, 96, 3); --udf-batch rows per call), written as path + prediction Parquet. The
      UDFs are nested in one select; Spark still plans two ArrowEvalPython steps, so each task runs two
      Python workers and the 27648 floats per image go Python -> JVM -> Python.
  (s) sparkdl: spark.read.format("binaryFile") -> sparkdl.predict(df, model, keep=["path"],
      inputs={<input>: sparkdl.image("content", size=(96, 96), scale=1/127.5, offset=-1.0)}) ->
      Parquet; the JPEGs are decoded and resized by TensorFlow inside the scoring task.
  (j) the batch job, `sparkdl-batch-score --input-format images --image-size 96x96 --image-scale
      0.00784313725 --image-offset -1`, run as a subprocess (its own JVM, local[*], no warm-up); the
      table shows the rows_per_second it reports (the write only, model loading included).

Data and model are generated here (bench-output/): --images JPEG files (quality 90) of random sizes
160..320 px per side, from smooth random content (a small random grid upsampled bicubically plus a
gradient), about 1 in 20 grayscale, plus scikit-learn's two sample photos (china.jpg, flower.jpg,
427x640). The model is keras.applications.MobileNetV2(weights=None, input_shape=(96, 96, 3),
alpha=0.35, classifier_activation=None): 1000 logits, so differences are visible. Its BatchNorm
statistics are calibrated on 256 images generated the same way (momentum 0, one training-mode
pass), so the outputs depend on the input; the run checks that they differ across images.

Each Spark scorer runs in a fresh local[2] session with Spark's default file splitting (binaryFile
packs files into tasks by spark.sql.files.openCostInBytes, 4 MB: ~32 files a task here, the
same for both routes), after an untimed warm-up that writes --warm-images files through it in 8
tasks, so every Python worker has loaded the model. Absolute speed drifts on a shared machine, so
the scorers run in rounds (u, s, j, then again) and the table shows each one's median over the
rounds; a ratio is the median of the per-round ratios.

CPU split: during each timed Spark run the CPU seconds of this process's descendants are read from
/proc, split into the JVM (java) and the Python workers (pyspark.daemon). In the same run, in a
child process with one TensorFlow thread (a task's share), the bench measures the CPU seconds of
decoding alone (PIL for (u); sparkdl's TF decoder, sparkdl.tf.image_decode, for (s)) and of the
model alone on pre-decoded arrays (at the rows per task, as the Spark routes call it). The table
attributes each route's CPU ms per image to decode (that single-process figure), model (likewise),
Python other (the workers' CPU less both: Arrow, pandas, serialisation, task set-up) and JVM (file
reading, Arrow conversion, Parquet writing, and the JVM's own background work).
Peak memory: the summed peak RSS (VmHWM) of a Spark scorer's Python workers before its session stops.

Correctness, once per run (round 1): (s) against (u) joined on path (PIL and TF decoders and
resizers differ slightly: PIL's bilinear resize antialiases when shrinking, tf.image.resize does
not; the run also reports (u) against TF with antialias=True, and the input pixels' differences),
and (s) against tf.io.decode_image + tf.image.resize + the model called directly in this
process (max |delta| must be < 1e-4). Writes everything to bench-output/images.json.

    python bench/images.py [--images N] [--rounds N] [--scorers u,s,j] [--udf-batch N] [--warm-images N]

The defaults (2000 images, 2 rounds) take about 7 minutes on 2 cores shared with other work (load ~4).
"""
import argparse
import io
import json
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from inference import worker_peak_mb  # noqa: E402  (bench/ is on sys.path when run as a script)

OUT = Path("bench-output")
SIZE = (96, 96)
SCALE, OFFSET = 1 / 127.5, -1.0
MODEL = OUT / "mobilenetv2-96.keras"
TOLERANCE = 1e-4
CLOCK = os.sysconf("SC_CLK_TCK")


# ---- data and model ---------------------------------------------------------------------------------

def smooth_image(rng) -> "PIL.Image.Image":  # noqa: F821
    """A random photo-like image: a small random grid upsampled bicubically, plus a gradient."""
    from PIL import Image

    height, width = (int(v) for v in rng.integers(160, 321, size=2))
    grid = rng.integers(0, 256, size=(int(rng.integers(3, 9)), int(rng.integers(3, 9)), 3), dtype=np.uint8)
    image = np.asarray(Image.fromarray(grid).resize((width, height), Image.BICUBIC), np.float32)
    ramp = np.linspace(-40, 40, width, dtype=np.float32)[None, :, None] * rng.uniform(-1, 1, size=3)
    image = np.clip(image + ramp + rng.normal(0, 4, size=image.shape), 0, 255).astype(np.uint8)
    picture = Image.fromarray(image)
    return picture.convert("L") if rng.random() < 0.05 else picture


def build_images(count: int) -> Path:
    """`count` JPEG files (plus scikit-learn's sample photos when installed) in a directory, written once."""
    folder = OUT / f"images-{count}"
    if (folder / "_done").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    rng = np.random.default_rng(12)
    for number in range(count):
        smooth_image(rng).save(folder / f"img{number:05d}.jpg", quality=90)
    try:
        import sklearn.datasets

        for photo in sorted((Path(sklearn.datasets.__file__).parent / "images").glob("*.jpg")):
            shutil.copy(photo, folder / f"sklearn-{photo.name}")
    except ImportError:
        pass
    (folder / "_done").touch()  # binaryFile reads only *.jpg (pathGlobFilter), so this marker is skipped
    return folder


def files_of(folder: Path):
    return sorted(str(p.resolve()) for p in folder.glob("*.jpg"))


def tf_decoded(paths, antialias: bool = False) -> np.ndarray:
    """Reference preprocessing: tf.io.decode_image + tf.image.resize (bilinear), scaled to [-1, 1]."""
    import tensorflow as tf

    out = []
    for path in paths:
        pixels = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
        if tuple(pixels.shape[:2]) != SIZE:
            pixels = tf.image.resize(pixels, SIZE, antialias=antialias)
        out.append(tf.cast(pixels, tf.float32).numpy() * np.float32(SCALE) + np.float32(OFFSET))
    return np.stack(out)


def calibration_images(count: int, seed: int = 7) -> np.ndarray:
    """`count` images like the benchmark's (not its files: the model does not depend on --images), at SIZE."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    pixels = [tf.image.resize(np.asarray(smooth_image(rng).convert("RGB")), SIZE).numpy() for _ in range(count)]
    return np.stack(pixels) * np.float32(SCALE) + np.float32(OFFSET)


def build_model() -> str:
    """MobileNetV2 (alpha 0.35, 96x96, logits) with BatchNorm statistics from real images; saved once."""
    if MODEL.exists():
        return str(MODEL.resolve())
    import keras

    keras.utils.set_random_seed(12)
    model = keras.applications.MobileNetV2(weights=None, input_shape=(*SIZE, 3), alpha=0.35,
                                           classifier_activation=None)
    batch, held_out = calibration_images(256), calibration_images(64, seed=13)
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    for layer in norms:
        layer.momentum = 0.0  # moving statistics := this batch's statistics
    model(batch, training=True)
    for layer in norms:
        layer.momentum = 0.999
    logits = model.predict(held_out, verbose=0)
    spread = float(np.std(logits, axis=0).mean())
    if not (np.isfinite(logits).all() and spread > 1e-3):
        raise SystemExit(f"calibrated model's outputs barely depend on the input (mean std across images {spread})")
    model.save(MODEL)
    return str(MODEL.resolve())


def input_name(model_path: str) -> str:
    from sparkdl.tf.model_io import KERAS, load_model

    return load_model(model_path, KERAS).signature.inputs[0].name


# ---- single-process measurements (CPU seconds per image) ---------------------------------------------

def cpu_now() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def pil_decode(content: bytes) -> np.ndarray:
    """(u)'s preprocessing of one file: PIL decode, RGB, bilinear resize, [-1, 1], flat float32."""
    from PIL import Image

    image = Image.open(io.BytesIO(content)).convert("RGB")
    if image.size != (SIZE[1], SIZE[0]):
        image = image.resize((SIZE[1], SIZE[0]), Image.BILINEAR)
    return (np.asarray(image, np.float32) * np.float32(SCALE) + np.float32(OFFSET)).reshape(-1)


def single_process(folder: Path, model_path: str, rows_per_task: int) -> dict:
    """Decode and model costs measured alone, in a child process with one TensorFlow thread (one task's
    share: Spark runs spark.task.cpus=1 per task; this process's TensorFlow is already initialised)."""
    done = subprocess.run([sys.executable, __file__, "--measure-alone", str(folder), model_path, str(rows_per_task)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"single-process measurement failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure_alone(paths, model_path: str, rows_per_task: int) -> dict:
    """CPU ms/image and images/s of PIL decode, sparkdl's TF decode and the model alone, in this process."""
    import pyarrow as pa
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)

    from sparkdl.images import image
    from sparkdl.tf.image_decode import images_to_tensor

    contents = [Path(p).read_bytes() for p in paths]
    chunks = [contents[i:i + rows_per_task] for i in range(0, len(contents), rows_per_task)]
    spec = image("content", size=SIZE, scale=SCALE, offset=OFFSET)
    images_to_tensor(pa.array(chunks[0], pa.binary()), spec, np.float32)  # trace the decoder (untimed)
    result = {}

    def timed(label, work):
        cpu, wall = cpu_now(), time.perf_counter()
        out = work()
        result[label + " cpu ms/img"] = (cpu_now() - cpu) / len(contents) * 1e3
        result[label + " img/s"] = len(contents) / (time.perf_counter() - wall)
        return out

    timed("decode PIL", lambda: [pil_decode(c) for c in contents])
    decoded = timed("decode TF", lambda: [images_to_tensor(pa.array(c, pa.binary()), spec, np.float32)
                                          for c in chunks])
    model = tf.keras.models.load_model(model_path, compile=False)
    call = tf.function(lambda x: model(x, training=False),
                       input_signature=[tf.TensorSpec([None, *SIZE, 3], tf.float32)])
    call(decoded[0]), call(decoded[-1])  # trace (untimed)
    timed("model", lambda: [call(x).numpy() for x in decoded])
    return result


# ---- Spark scorers -----------------------------------------------------------------------------------

def tree_cpu() -> dict:
    """CPU seconds of this process's live descendants, each with its reaped children: the JVM and the
    Python workers (pyspark.daemon and the workers it forks). A live child's time is not in its
    parent's cutime, so summing every live descendant counts each second once."""
    stats, children = {}, {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
            stats[int(entry.name)] = sum(int(v) for v in fields[11:15]) / CLOCK  # utime stime cutime cstime
    totals, todo = {"jvm": 0.0, "python": 0.0, "other": 0.0}, list(children.get(os.getpid(), []))
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        kind = ("python" if b"pyspark.daemon" in command or b"pyspark.worker" in command
                else "jvm" if b"java" in command.split(b"\0")[0] else "other")
        totals[kind] += stats[pid]
    return totals


def new_session():
    """A fresh local[2] session, Spark's defaults otherwise (file splitting included)."""
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.master("local[2]").appName("sparkdl-bench-images")
             .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
             .config("spark.driver.memory", "4g").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def read_files(spark, folder: Path):
    return spark.read.format("binaryFile").option("pathGlobFilter", "*.jpg").load(str(folder.resolve()))


def user_route(model_path: str, udf_batch: int):
    """(u): PIL pandas_udf -> array<float> -> predict_batch_udf (compiled model call)."""
    import pandas as pd
    from pyspark.ml.functions import predict_batch_udf
    from pyspark.sql.functions import pandas_udf
    from pyspark.sql.types import ArrayType, FloatType

    @pandas_udf(ArrayType(FloatType()))
    def decode(content: pd.Series) -> pd.Series:
        return pd.Series([pil_decode(c) for c in content])

    def make_predict_fn():
        import tensorflow as tf

        try:  # one thread per worker, as sparkdl does (spark.task.cpus=1): less oversubscription
            tf.config.threading.set_intra_op_parallelism_threads(1)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:
            pass  # TensorFlow already started in this worker
        model = tf.keras.models.load_model(model_path, compile=False)
        call = tf.function(lambda x: model(x, training=False),
                           input_signature=[tf.TensorSpec([None, *SIZE, 3], tf.float32)])
        return lambda inputs: call(inputs).numpy()

    classify = predict_batch_udf(make_predict_fn, return_type=ArrayType(FloatType()), batch_size=udf_batch,
                                 input_tensor_shapes=[[*SIZE, 3]])
    return lambda df: df.select("path", classify(decode("content")).alias("prediction"))


def sparkdl_route(model_path: str):
    """(s): sparkdl.image + sparkdl.predict, keeping path."""
    import sparkdl

    inputs = {input_name(model_path): sparkdl.image("content", size=SIZE, scale=SCALE, offset=OFFSET)}
    return lambda df: sparkdl.predict(df, model_path, keep=["path"], inputs=inputs)


def warm_up(spark, score, folder: Path, count: int) -> None:
    """Untimed: write the first `count` files through `score` in 8 tasks, so every Python worker the
    timed run will use has loaded the model ((u) runs two Python workers per task, one per UDF, and a
    worker that served the decoding UDF may serve the model next)."""
    output = OUT / "scored-images-warm-up"
    sample = read_files(spark, folder).orderBy("path").limit(count).repartition(8)
    score(sample).write.mode("overwrite").parquet(str(output))
    shutil.rmtree(output, ignore_errors=True)


def spark_run(label: str, score, folder: Path, warm: int, keep_output: bool) -> dict:
    """Fresh session, warm-up, then the timed binaryFile -> score -> Parquet run; images/s and CPU."""
    spark = new_session()
    try:
        warm_up(spark, score, folder, warm)
        output = OUT / f"scored-images-{label}"
        shutil.rmtree(output, ignore_errors=True)
        df = read_files(spark, folder)
        tasks = df.rdd.getNumPartitions()
        cpu, started = tree_cpu(), time.perf_counter()
        score(df).write.parquet(str(output))
        seconds = time.perf_counter() - started
        after = tree_cpu()
        rows = spark.read.parquet(str(output)).count()
        result = {label: rows / seconds, f"{label} tasks": tasks, f"{label} peak MB": worker_peak_mb()}
        for kind in ("jvm", "python"):
            result[f"{label} {kind} cpu ms/img"] = (after[kind] - cpu[kind]) / rows * 1e3
        if not keep_output:
            shutil.rmtree(output, ignore_errors=True)
        return result
    finally:
        spark.stop()


def job_run(model_path: str, folder: Path) -> dict:
    """(j): the batch job as a subprocess; its own rows_per_second."""
    output = OUT / "scored-images-j"
    shutil.rmtree(output, ignore_errors=True)
    command = [str(Path(sys.executable).parent / "sparkdl-batch-score"), "--model", model_path,
               "--input", str(folder.resolve()), "--output", str(output.resolve()), "--input-format", "images",
               "--image-size", "96x96", "--image-scale", "0.00784313725", "--image-offset", "-1"]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - started
    shutil.rmtree(output, ignore_errors=True)
    if done.returncode != 0:
        print(f"(j) failed, exit {done.returncode}: {done.stderr[-2000:]}", file=sys.stderr)
        return {"j": float("nan")}
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    return {"j": summary["rows_per_second"], "j engine": summary.get("engine"), "j process s": wall}


# ---- correctness -------------------------------------------------------------------------------------

def check(model_path: str, count: int) -> dict:
    """(s) vs (u) joined on path, and (s) vs TF decode + resize + the model called directly."""
    import pyarrow.parquet as pq
    import tensorflow as tf

    def predictions(label):
        table = pq.read_table(OUT / f"scored-images-{label}", columns=["path", "prediction"])
        paths = [p.removeprefix("file:") for p in table.column("path").to_pylist()]
        return dict(zip(paths, np.array(table.column("prediction").to_pylist(), np.float32)))

    s, u = predictions("s"), predictions("u")
    paths = sorted(s)
    if sorted(u) != paths:
        raise SystemExit(f"(s) and (u) scored different files: {len(s)} vs {len(u)}")
    s_all = np.stack([s[p] for p in paths])
    u_all = np.stack([u[p] for p in paths])
    spread = float(np.std(s_all, axis=0).mean())
    model = tf.keras.models.load_model(model_path, compile=False)
    sample = paths[:: max(1, len(paths) // count)][:count] + [p for p in paths if "sklearn-" in p]
    direct = model.predict(tf_decoded(sample), batch_size=64, verbose=0)
    direct_delta = float(np.abs(direct - np.stack([s[p] for p in sample])).max())
    antialiased = model.predict(tf_decoded(sample, antialias=True), batch_size=64, verbose=0)
    u_sample = np.stack([u[p] for p in sample])
    pil_pixels = np.stack([pil_decode(Path(p).read_bytes()).reshape(*SIZE, 3) for p in sample])
    pixel_delta = np.abs(pil_pixels - tf_decoded(sample, antialias=True)) * 127.5  # in 0..255 levels
    result = {"s vs u max |delta|": float(np.abs(s_all - u_all).max()),
              "s vs u mean |delta|": float(np.abs(s_all - u_all).mean()),
              "s vs u top-1 agreement": float((s_all.argmax(1) == u_all.argmax(1)).mean()),
              "s vs direct TF max |delta|": direct_delta, "direct images": len(sample),
              "u vs direct TF max |delta|": float(np.abs(direct - u_sample).max()),
              "u vs direct TF antialias max |delta|": float(np.abs(antialiased - u_sample).max()),
              "u vs direct TF antialias mean |delta|": float(np.abs(antialiased - u_sample).mean()),
              "PIL vs TF antialias pixels max |delta| (0..255)": float(pixel_delta.max()),
              "PIL vs TF antialias pixels mean |delta| (0..255)": float(pixel_delta.mean()),
              "logit std across images": spread, "distinct top-1 classes": int(len(set(s_all.argmax(1))))}
    print("correctness: " + ", ".join(f"{k} {v:.3g}" for k, v in result.items()), flush=True)
    if direct_delta >= TOLERANCE:
        raise SystemExit(f"(s) differs from TF decode + resize + model by {direct_delta} >= {TOLERANCE}")
    if spread < 1e-3:
        raise SystemExit(f"predictions barely differ across images (mean std {spread})")
    return result


# ---- rounds, table -----------------------------------------------------------------------------------

def one_round(number: int, folder: Path, model_path: str, chosen, args) -> dict:
    """Single-process decode/model CPU, then each chosen scorer (Spark ones in fresh sessions)."""
    result = {}
    routes = {"u": user_route(model_path, args.udf_batch), "s": sparkdl_route(model_path)}
    for label in chosen:
        if label == "j":
            result.update(job_run(model_path, folder))
        else:
            result.update(spark_run(label, routes[label], folder, args.warm_images, keep_output=number == 1))
    tasks = result.get("s tasks") or result.get("u tasks") or 1
    per_task = math.ceil(len(files_of(folder)) / tasks)
    result.update(single_process(folder, model_path, per_task))
    result["rows per task"] = per_task
    return result


def split(result: dict, label: str, decoder: str) -> dict:
    """CPU ms per image of route `label`: decode, model, Python other, JVM (see the docstring)."""
    decode, model = result[f"decode {decoder} cpu ms/img"], result["model cpu ms/img"]
    python, jvm = result[f"{label} python cpu ms/img"], result[f"{label} jvm cpu ms/img"]
    return {"decode": decode, "model": model, "python other": python - decode - model, "jvm": jvm,
            "total": python + jvm}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000, help="generated JPEG files (plus 2 sample photos)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of every scorer; medians are reported")
    parser.add_argument("--scorers", default="u,s,j", help="comma-separated subset of u, s, j")
    parser.add_argument("--udf-batch", type=int, default=256, help="(u)'s predict_batch_udf batch_size")
    parser.add_argument("--warm-images", type=int, default=128, help="files in each Spark scorer's warm-up")
    parser.add_argument("--check-images", type=int, default=200, help="files compared with direct TF calls")
    parser.add_argument("--measure-alone", nargs=3, help=argparse.SUPPRESS)  # internal: single_process's child
    args = parser.parse_args()
    if args.measure_alone:
        folder, model_path, rows = args.measure_alone
        print(json.dumps(measure_alone(files_of(Path(folder)), model_path, int(rows))))
        return
    chosen = [s for s in args.scorers.split(",") if s]
    if args.rounds < 1 or not chosen or not set(chosen) <= {"u", "s", "j"}:
        parser.error(f"--rounds must be >= 1 and --scorers a list of u, s, j; got {args.rounds}, {args.scorers!r}")
    OUT.mkdir(exist_ok=True)
    folder = build_images(args.images)
    model_path = build_model()
    runs, checked = [], None
    for number in range(1, args.rounds + 1):
        runs.append(one_round(number, folder, model_path, chosen, args))
        print(f"round {number}/{args.rounds}: " + ", ".join(
            f"{k} {v:,.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in runs[-1].items()), flush=True)
        if number == 1 and {"u", "s"} <= set(chosen):
            checked = check(model_path, args.check_images)
    result = {"images": len(files_of(folder)), "rounds": runs, "check": checked,
              "load": os.getloadavg(), "cpus": os.cpu_count()}
    for key in runs[0]:
        values = [run[key] for run in runs if isinstance(run.get(key), (int, float))]
        if values:
            result[key] = statistics.median(values)
    if {"u", "s"} <= set(chosen):
        per_round = [run["s"] / run["u"] for run in runs]
        result["s/u"], result["s/u per round"] = statistics.median(per_round), per_round
        result["cpu split"] = {"u": split(result, "u", "PIL"), "s": split(result, "s", "TF")}
    if {"j", "u"} <= set(chosen):
        result["j/u"] = statistics.median(run["j"] / run["u"] for run in runs)
    print_table(result, chosen)
    (OUT / "images.json").write_text(json.dumps(result, indent=2))


def print_table(r: dict, chosen) -> None:
    nan = float("nan")
    print(f"\n{r['images']} images, medians over {len(r['rounds'])} round(s), load average {r['load'][0]:.1f} "
          f"on {r['cpus']} CPUs")
    print(f"{'scorer':<28} {'images/s':>9} {'tasks':>6} {'peak MB':>8}")
    names = {"u": "(u) PIL udf + predict_batch", "s": "(s) sparkdl.image + predict", "j": "(j) sparkdl-batch-score"}
    for label in chosen:
        print(f"{names[label]:<28} {r.get(label, nan):>9.0f} {r.get(label + ' tasks', nan):>6.0f} "
              f"{r.get(label + ' peak MB', nan):>8.0f}")
    if "s/u" in r:
        print(f"s/u {r['s/u']:.2f} (per round: {', '.join(f'{v:.2f}' for v in r['s/u per round'])})"
              + (f"; j/u {r['j/u']:.2f}" if "j/u" in r else ""))
        print(f"\nCPU ms per image ({r['rows per task']:.0f} rows per task)   decode    model  py other      jvm"
              "    total")
        for label, decoder in (("u", "PIL"), ("s", "TF")):
            c = r["cpu split"][label]
            print(f"{names[label]:<28} ({decoder:>3}) {c['decode']:>8.2f} {c['model']:>8.2f} {c['python other']:>9.2f} "
                  f"{c['jvm']:>8.2f} {c['total']:>8.2f}")
    print(f"single process: PIL decode {r['decode PIL img/s']:.0f} img/s, TF decode {r['decode TF img/s']:.0f} img/s, "
          f"model {r['model img/s']:.0f} img/s")


if __name__ == "__main__":
    main()
