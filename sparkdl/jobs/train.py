"""sparkdl-train (or: spark-submit jobs/train.py) (--model-fn module:function | --model URI)
   --input PATH --features COLS --label COL --output URI [options]

Trains a Keras model with sparkdl.train, writes it to --output (.keras) with <name>.history.json
beside it, and prints a one-line JSON summary (with model_version when --model is an MLflow URI).
Logs one line per epoch (loss, metrics, samples/s, ETA). With --checkpoint-dir, rerunning the same
command after a failure resumes from the last checkpoint; a rerun with other settings
(--batch-size, --mode, another model, ...) fails with
ConfigError naming them, unless --resume force. Bad input: `ErrorType: message`, exit code 2, found
before any Spark job: a bad --optimizer (name or JSON), an unwritable --checkpoint-dir or --output
directory, a damaged --model file (ModelFormatError).
"""
import argparse
import importlib
import importlib.util
import json
import time

from sparkdl import _cli, fs
from sparkdl.errors import ConfigError, StorageError
from sparkdl.runtime.jobinfo import described

RESUME = {"true": True, "false": False, "force": "force"}  # --resume -> train(resume=...)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="train.py", description="Train a Keras model on Spark")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model-fn", help="module:function (or file.py:function) returning a keras.Model")
    source.add_argument("--model", help="initial .keras model, any Hadoop URI")
    _cli.add_loading_flags(parser, signature=False)
    parser.add_argument("--input", required=True, help="training table path")
    parser.add_argument("--input-format", default="parquet", choices=_cli.INPUT_FORMATS)
    parser.add_argument("--validation", help="validation table path (same format and columns)")
    parser.add_argument("--features", required=True, help="feature column(s), one per model input: a,b")
    parser.add_argument("--label", required=True, help="label column")
    parser.add_argument("--loss", default="mse", help="Keras loss name (default mse)")
    parser.add_argument("--optimizer", default="sgd", help="Keras optimizer name or JSON config")
    parser.add_argument("--learning-rate", type=float, help="learning rate for a named optimizer")
    parser.add_argument("--metrics", default="",
                        help="comma separated Keras metric names: accuracy, auc, precision, recall, mae, ...")
    parser.add_argument("--epochs", type=_cli.positive, default=1)
    parser.add_argument("--batch-size", type=_cli.positive, default=256, help="global batch size")
    parser.add_argument("--mode", default="sync", choices=("sync", "average"))
    parser.add_argument("--local-steps", type=_cli.positive, default=8, help="steps per round in average mode")
    parser.add_argument("--partitions", type=_cli.positive, help="training partitions (default: parallelism)")
    parser.add_argument("--shuffle", action="store_true", help="train in a seeded shuffled order")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint-dir", help="checkpoint directory URI; resumes from it when it holds one")
    parser.add_argument("--checkpoint-every", type=int, default=0, help="checkpoint every N rounds too")
    parser.add_argument("--resume", choices=tuple(RESUME), help="as train(resume=...): default: resume when "
                        "--checkpoint-dir holds a checkpoint; true: require one; false: start over; force: resume "
                        "even if the run's settings differ from the checkpoint's")
    parser.add_argument("--output", required=True, help="where to write the trained model (.keras)")
    parser.add_argument("--mlflow-experiment", help="log the run (params, per-epoch metrics, model) to this MLflow "
                        "experiment, at MLFLOW_TRACKING_URI")
    parser.add_argument("--register-as", help="with --mlflow-experiment: register the model under this name")
    parser.add_argument("--overwrite", action="store_true", help="replace --output if it exists")
    return parser.parse_args(argv)


def load_model_fn(spec: str):
    """Call `module:function` or `path/file.py:function` and return its model."""
    target, sep, name = spec.rpartition(":")
    if not sep or not target or not name:
        raise ConfigError(f"--model-fn must look like package.module:function or file.py:function, got {spec!r}")
    try:
        if target.endswith(".py"):
            loader = importlib.util.spec_from_file_location("sparkdl_model_fn", target)
            module = importlib.util.module_from_spec(loader)
            loader.loader.exec_module(module)
        else:
            module = importlib.import_module(target)
        return getattr(module, name)()
    except (ImportError, FileNotFoundError, AttributeError) as error:
        raise ConfigError(f"--model-fn {spec!r} cannot be loaded: {error}") from None


OPTIMIZER_EXAMPLE = '{"class_name": "SGD", "config": {"learning_rate": 0.1}}'


def _optimizer(args):
    """The Keras optimizer of --optimizer (a name or a JSON config) and --learning-rate; ConfigError
    naming the flag, the value and the fix for bad JSON, an unknown optimizer or a bad rate."""
    from sparkdl.tf import keras_objects

    text = args.optimizer.strip()
    if args.learning_rate is not None and not args.learning_rate > 0:
        raise ConfigError(f"--learning-rate must be a number > 0, got {args.learning_rate!r}")
    spec = text
    if text.startswith(("{", "[", '"')):
        try:
            spec = json.loads(text)
        except json.JSONDecodeError as error:
            raise ConfigError(f"--optimizer {args.optimizer!r} is not valid JSON ({error.msg} at character "
                              f"{error.pos}); pass a Keras optimizer name such as adam, or a config such as "
                              f"--optimizer '{OPTIMIZER_EXAMPLE}'") from None
        if not isinstance(spec, dict):
            raise ConfigError(f"--optimizer {args.optimizer!r} is JSON but not an object; pass a Keras optimizer "
                              f"name such as adam, or a config such as --optimizer '{OPTIMIZER_EXAMPLE}'")
    try:
        optimizer = keras_objects.optimizer(spec)
    except ConfigError as error:
        raise ConfigError(f"--optimizer: {error}") from None
    if args.learning_rate is not None:
        optimizer.learning_rate = args.learning_rate
    return optimizer


def _claim_output(spark, args) -> None:
    """Before any work: --output is new (or --overwrite) and its directory writable (a marker is made and deleted)."""
    if fs.exists(args.output, spark) and not args.overwrite:
        raise StorageError(f"--output {args.output!r} already exists; choose a new path or pass --overwrite")
    fs.check_writable(fs.sibling(args.output, "staging"), "the directory of --output", spark)


def main(argv=None) -> dict:
    args = parse_args(argv)
    optimizer = _optimizer(args)  # flags first: a bad --optimizer fails before Spark starts
    if args.mlflow_experiment:
        from sparkdl.runtime.mlflow_models import require_mlflow

        require_mlflow().set_experiment(args.mlflow_experiment)
    elif args.register_as:
        raise ConfigError("--register-as needs --mlflow-experiment NAME (the run that logs the model)")
    spark = _cli.session("sparkdl-train")
    import sparkdl

    _claim_output(spark, args)
    model = load_model_fn(args.model_fn) if args.model_fn else args.model
    with described(spark, f"sparkdl train: reading {args.input}"):
        df = _cli.read_table(spark, args.input, args.input_format)
        validation = _cli.read_table(spark, args.validation, args.input_format) if args.validation else None
    started = time.perf_counter()
    result = sparkdl.train(df, model, features=args.features, label=args.label, loss=args.loss,
                           optimizer=optimizer, epochs=args.epochs, batch_size=args.batch_size, mode=args.mode,
                           local_steps=args.local_steps, metrics=[m for m in args.metrics.split(",") if m],
                           checkpoint_dir=args.checkpoint_dir, checkpoint_every=args.checkpoint_every,
                           resume=RESUME.get(args.resume), validation_df=validation, partitions=args.partitions,
                           shuffle=args.shuffle, seed=args.seed, mlflow=bool(args.mlflow_experiment),
                           register_as=args.register_as, imports=args.imports)
    output = result.save(args.output, spark)
    last = result.history[-1] if result.history else {}
    from sparkdl.runtime.mlflow_models import version_of

    version = version_of(args.model)  # models:/name@alias -> the version training started from
    return {"output": output, "epochs": len(result.history), "seconds": round(time.perf_counter() - started, 3),
            "final": {k: v for k, v in last.items() if isinstance(v, (int, float))},
            **({"model_version": version} if version else {}),
            **({"mlflow_run_id": result.mlflow_run_id, "model_uri": result.mlflow_model_uri}
               if result.mlflow_run_id else {})}


console_main = _cli.console_entry(main)  # the console script; also a Databricks Python wheel task's entry point


if __name__ == "__main__":
    console_main()
