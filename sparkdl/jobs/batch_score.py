"""sparkdl-batch-score (or: spark-submit jobs/batch_score.py) --model URI --input PATH --output PATH [options]

Scores a table with a TensorFlow model and writes it with the prediction columns added: files that
pyarrow reads go through score_files (engine "arrow"), anything else through predict ("spark"); see
--engine. Prints a one-line JSON summary (rows, seconds, rows_per_second, bad_rows, output, engine). Bad
input: `ErrorType: message` on stderr, exit code 2, nothing written to --output. The table is
written apart from --output (beside it, or in its _temporary directory for the arrow engine) and
put in its place once complete, so --overwrite replaces the old output only with a whole new one.
"""
import argparse
import time

from sparkdl import _cli, fs
from sparkdl.config import ON_ERROR, parse_mapping
from sparkdl.errors import ConfigError, StorageError, reading_model
from sparkdl.images import image
from sparkdl.runtime.jobinfo import described
from sparkdl.runtime.load_options import load_options
from sparkdl.runtime.models import resolve_model

IMAGE_GLOB = "*.{jpg,jpeg,png,gif,bmp,JPG,JPEG,PNG,GIF,BMP}"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="batch_score.py", description=__doc__.splitlines()[2])
    parser.add_argument("--model", required=True, help="SavedModel directory or .keras file, any Hadoop URI")
    parser.add_argument("--input", required=True, help="input table path")
    parser.add_argument("--output", required=True, help="output table path (must not exist unless --overwrite)")
    parser.add_argument("--input-format", default="parquet", choices=_cli.INPUT_FORMATS + ("images",),
                        help="images: a directory of JPEG/PNG/GIF/BMP files (see --image-size); writes path + "
                             "predictions")
    parser.add_argument("--image-size", help="with --input-format images: the model's HEIGHTxWIDTH, e.g. 96x96")
    parser.add_argument("--image-scale", type=float, default=1 / 255, help="pixel v is fed as v*scale+offset "
                        "(default 1/255)")
    parser.add_argument("--image-offset", type=float, default=0.0, help="see --image-scale (default 0)")
    parser.add_argument("--image-glob", default=IMAGE_GLOB, help=f"image file names to read (default {IMAGE_GLOB})")
    parser.add_argument("--on-error", choices=ON_ERROR, default="raise",
                        help="raise (default): a row that cannot be scored fails the job (exit 2); null: it gets "
                             "null predictions and an `error` text, counted as bad_rows in the summary")
    parser.add_argument("--output-format", default="parquet", choices=_cli.OUTPUT_FORMATS)
    parser.add_argument("--inputs", help="model input=column pairs, e.g. features=x,mask=m")
    parser.add_argument("--outputs", help="model output=column pairs, e.g. output_0=score")
    parser.add_argument("--batch-size", type=_cli.positive, default=None,
                        help="rows per model call (default: each worker measures the fastest)")
    parser.add_argument("--keep", type=_cli.column_list,
                        help="input columns to write with the predictions, e.g. id,ts (default: all)")
    parser.add_argument("--partitions", type=_cli.positive, help="repartition the input to N partitions")
    _cli.add_loading_flags(parser)
    parser.add_argument("--overwrite", action="store_true",
                        help="replace --output if it exists, once the new output is complete")
    parser.add_argument("--engine", choices=("auto", "arrow", "spark"), default="auto",
                        help="arrow: Spark schedules, pyarrow reads and writes the files (score_files); spark: "
                             "Spark reads and writes (predict); auto (default): arrow unless a flag needs Spark")
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    summary = _score(args)
    from sparkdl.runtime.mlflow_models import version_of

    version = version_of(args.model)  # models:/name@alias -> the version that was scored
    return {**summary, "model_version": version} if version else summary


def _score(args) -> dict:
    spark = _cli.session("sparkdl-batch-score")
    import sparkdl

    args.input, args.output = fs.absolute(args.input, spark), fs.absolute(args.output, spark)  # fs.defaultFS
    _cli.claim_output(spark, args.output, args.overwrite, args.input)
    from sparkdl.inference.files import choose_engine

    spark_steps = [f"--partitions {args.partitions}"] if args.partitions else []
    spark_steps += ["--input-format images"] if args.input_format == "images" else []
    options = dict(inputs=args.inputs, outputs=args.outputs, keep=args.keep, batch_size=args.batch_size,
                   on_error=args.on_error, imports=args.imports, signature=args.signature)
    if choose_engine(args.engine, args.input, args.output_format, spark_steps) == "arrow":
        return {**sparkdl.score_files(spark, args.model, args.input, args.output, input_format=args.input_format,
                                      output_format=args.output_format, overwrite=args.overwrite, **options),
                "engine": "arrow"}
    if args.input_format == "images":
        df, options = _image_table(spark, args, options)
    else:
        with described(spark, f"sparkdl batch_score: reading {args.input}"):
            df = _cli.read_table(spark, args.input, args.input_format)
    if args.partitions:
        df = df.repartition(args.partitions)
    scored = sparkdl.predict(df, args.model, **options)
    started = time.perf_counter()
    with _cli.staged_output(spark, args.output) as staging, \
            described(spark, f"sparkdl batch_score: scoring into {args.output}"):
        scored.write.format(args.output_format).save(staging)
    seconds = time.perf_counter() - started
    with described(spark, f"sparkdl batch_score: counting {args.output}"):
        written = spark.read.format(args.output_format).load(args.output)
        rows = written.count()
        bad_rows = written.filter("error IS NOT NULL").count() if args.on_error == "null" else 0
    return {"rows": rows, "seconds": round(seconds, 3), "rows_per_second": round(rows / seconds, 1),
            "bad_rows": bad_rows, "output": args.output, "model_loads": sparkdl.model_loads(spark), "engine": "spark"}


def _image_table(spark, args, options: dict):
    """The image files under --input (binaryFile) and predict options feeding them to the model."""
    if not args.image_size:
        raise ConfigError("--input-format images needs --image-size HEIGHTxWIDTH (the model's input size, e.g. 96x96)")
    to_image = dict(size=args.image_size, scale=args.image_scale, offset=args.image_offset)
    if args.inputs:  # input=column pairs: each named column is an image column
        inputs = {name: image(column, **to_image) for name, column in parse_mapping(args.inputs, "inputs")}
    else:
        with reading_model(args.model):
            signature = resolve_model(spark, args.model, load_options(None, args.imports, args.signature)).signature
        if len(signature.inputs) != 1:
            raise ConfigError(f"the model has inputs {signature.input_names()}; name the image one with "
                              f"--inputs {signature.input_names()[0]}=content")
        inputs = {signature.inputs[0].name: image("content", **to_image)}
    if not fs.exists(args.input, spark):
        raise StorageError(f"--input {args.input!r} does not exist; check the path and its scheme")
    df = spark.read.format("binaryFile").option("pathGlobFilter", args.image_glob) \
        .option("recursiveFileLookup", "true").load(args.input)
    return df, {**options, "inputs": inputs, "keep": args.keep or ["path"]}


console_main = _cli.console_entry(main)  # the console script; also a Databricks Python wheel task's entry point


if __name__ == "__main__":
    console_main()
