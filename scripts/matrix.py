"""Run the compatibility subset under other Python and pyspark versions (`make test-matrix`).

Each cell ("PYTHON:PYSPARK", e.g. 3.12:4.0.5) gets a throwaway venv in .cache/matrix/ (kept and
reused by later runs) built from that interpreter, with that pyspark, this checkout installed in
editable mode and its test extra's other pins. The subset is the one tests/compat runs under
pyspark 3.5: the unit tests, predict on a .keras and a SavedModel, TFTransformer save/load, sync
training, score_stream on a file source, the batch job through spark-submit. Interpreters are
looked up in pyenv's versions, then as pythonX.Y on PATH. Prints one line per cell; exit 1 if any
cell failed, 0 when every cell passed or was skipped (no such interpreter here).

    python scripts/matrix.py 3.12:4.0.5 3.12:4.1.4 3.10:4.2.1
"""
import argparse
import glob
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.compat.test_pyspark35 import SKIPPED, SUBSET  # noqa: E402

CACHE = ROOT / ".cache" / "matrix"
PINS = ["tensorflow-cpu==2.21.0", "pyarrow>=14", "pandas>=2,<3", "pytest>=8", "pytest-timeout>=2.3", "hdfs>=2.7",
        "confluent-kafka>=2.3", "pillow>=10", "fsspec", "setuptools", "wheel"]


def interpreter(version: str):
    """The path of a Python `version` (e.g. '3.12') on this machine, or None: pyenv's installed
    versions first (its shims on PATH only run the selected one), then pythonX.Y on PATH."""
    pyenv = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    candidates = sorted(glob.glob(f"{pyenv}/versions/{version}.*/bin/python{version}"))
    if candidates:
        return candidates[-1]
    found = shutil.which(f"python{version}")
    return found if found and "/shims/" not in found else None


def venv_for(python: str, version: str, pyspark: str) -> Path:
    """A venv with `pyspark` and the subset's dependencies, built once (atomically, by rename)."""
    target = CACHE / f"py{version}-pyspark{pyspark}"
    if (target / "bin" / "python").exists():
        return target
    staging = target.with_name(f".{target.name}-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    subprocess.run([python, "-m", "venv", str(staging)], check=True)
    pip = [str(staging / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, f"pyspark=={pyspark}", *PINS], check=True, timeout=1800)
    subprocess.run([*pip, "--no-deps", "--no-build-isolation", "-e", str(ROOT)], check=True)
    staging.rename(target)  # only `bin/python -m ...` is used, which a renamed venv still runs
    return target


def run_cell(cell: str) -> str:
    """Build the cell's venv and run the subset in it; one line saying what happened."""
    version, pyspark = cell.split(":")
    python = interpreter(version)
    if python is None:
        return f"{cell}: SKIPPED (no python{version} on PATH or in pyenv)"
    started = time.time()
    venv = venv_for(python, version, pyspark)
    built = time.time() - started
    py = str(venv / "bin" / "python")
    env = dict(os.environ, PYSPARK_PYTHON=py, PYSPARK_DRIVER_PYTHON=py, TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("SPARK_HOME", None)
    env.pop("PYTHONPATH", None)
    done = subprocess.run([py, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-m", "not compat and not "
                           "connect", *SKIPPED, *SUBSET], cwd=ROOT, env=env, capture_output=True, text=True)
    versions = subprocess.run([py, "-c", "import sys, pyspark, tensorflow as tf; print(sys.version.split()[0], "
                               "pyspark.__version__, tf.__version__)"], env=env, capture_output=True,
                              text=True).stdout.strip()
    last = (done.stdout.strip().splitlines() or ["(no output)"])[-1]
    status = "PASSED" if done.returncode == 0 else "FAILED"
    if done.returncode != 0:
        print(done.stdout[-6000:], done.stderr[-2000:], sep="\n")
    return (f"{cell}: {status} (python, pyspark, tensorflow = {versions}; venv {built:.0f}s, "
            f"subset {time.time() - started - built:.0f}s): {last}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cells", nargs="+", help="PYTHON:PYSPARK, e.g. 3.12:4.0.5")
    results = [run_cell(cell) for cell in parser.parse_args(argv).cells]
    print("\n".join(results))
    return 1 if any(": FAILED" in line for line in results) else 0


if __name__ == "__main__":
    sys.exit(main())
