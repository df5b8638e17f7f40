"""The Databricks notebooks in notebooks/, run end to end on local Spark as a user would run them
(`python scripts/run_notebook.py ...`): every cell must run and every plot must be a real image."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"

def run_notebook(name: str, tmp_path: Path, **params) -> subprocess.CompletedProcess:
    figures = tmp_path / "figures"
    args = [sys.executable, str(ROOT / "scripts" / "run_notebook.py"), str(NOTEBOOKS / name),
            "--param", f"work_dir={tmp_path / 'work'}", "--param", f"figure_dir={figures}"]
    for key, value in params.items():
        args += ["--param", f"{key}={value}"]
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable)
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{name} failed:\n{done.stdout[-4000:]}\n{done.stderr[-6000:]}"
    return done


def assert_real_figure(path: Path) -> None:
    """The file is a PNG with drawn content, not an empty canvas."""
    import matplotlib.image

    assert path.is_file(), f"{path.name} was not saved"
    assert path.stat().st_size > 10_000, f"{path.name} is only {path.stat().st_size} bytes"
    pixels = matplotlib.image.imread(path)[..., :3]
    assert pixels.shape[0] > 200 and pixels.shape[1] > 300
    assert np.mean(pixels.std(axis=(0, 1))) > 0.05, f"{path.name} looks blank"


def test_notebooks_are_databricks_source_format():
    from importlib import util

    spec = util.spec_from_file_location("run_notebook", ROOT / "scripts" / "run_notebook.py")
    runner = util.module_from_spec(spec)
    spec.loader.exec_module(runner)
    names = sorted(path.name for path in NOTEBOOKS.glob("*.py"))
    assert names == ["00_setup.py", "01_batch_scoring.py", "02_distributed_training.py", "03_streaming_scoring.py"]
    for name in names[1:]:
        cells = runner.split_cells((NOTEBOOKS / name).read_text())
        commands = [runner.magic_command(cell) for cell in cells]
        assert commands[0] == "%md" and "%pip" in commands and "%run" in commands, name
        assert sum(command is None for command in commands) >= 4, f"{name} has too few code cells"
    with pytest.raises(ValueError, match="not a Databricks source notebook"):
        runner.split_cells("print('plain python')\n")


def test_setup_notebook_default_master_retries_failed_tasks():
    """The local master 00_setup builds without a `master` parameter retries a failed task, as the
    jobs' masters do (`_cli.master_with_retries` leaves only such a master as it is)."""
    import re

    from sparkdl import _cli

    defaults = re.findall(r'param\("master", "([^"]+)"\)', (NOTEBOOKS / "00_setup.py").read_text())
    assert len(defaults) == 1 and defaults[0].startswith("local[")
    assert _cli.master_with_retries(defaults[0]) is None, f"{defaults[0]} never retries a failed task"


@pytest.mark.slow
def test_batch_scoring_notebook(tmp_path):
    done = run_notebook("01_batch_scoring.py", tmp_path, rows=20000)
    assert "largest difference from predict(): 0.0" in done.stdout
    assert "batch_size measured:" in done.stdout and "batch_size  8192:" in done.stdout
    assert_real_figure(tmp_path / "figures" / "01_throughput.png")
    assert len(list((tmp_path / "work").glob("run-*/01_pipeline/metadata"))) == 1


@pytest.mark.slow
def test_distributed_training_notebook(tmp_path):
    done = run_notebook("02_distributed_training.py", tmp_path, rows=20000, epochs=2)
    assert "epochs trained by the second call: [3, 4]" in done.stdout
    assert_real_figure(tmp_path / "figures" / "02_training_history.png")
    assert len(list((tmp_path / "work").glob("run-*/02_trained/classifier.history.json"))) == 1


@pytest.mark.slow
@pytest.mark.kafka
def test_streaming_notebook(tmp_path, kafka):
    (tmp_path / "work" / "03_stream" / "checkpoint").mkdir(parents=True)  # a pre-run-directory layout's leftovers
    done = run_notebook("03_streaming_scoring.py", tmp_path, bootstrap=kafka, topic="notebook-events",
                        messages=3000)
    assert "scored rows: 3000, distinct ids: 3000, dead letters: 2" in done.stdout
    assert "console query active: False" in done.stdout
    assert "-------- micro-batch 0: " in done.stdout
    # a re-run with the same widgets starts clean: this run's own directory and topic
    assert len(list((tmp_path / "work").glob("run-*/03_stream/scored"))) == 1
    assert "topic 'notebook-events-2" in done.stdout


def test_runner_names_the_failing_cell(tmp_path):
    notebook = tmp_path / "broken.py"
    notebook.write_text("# Databricks notebook source\nx = 1\n\n# COMMAND ----------\n\n"
                        "# MAGIC %md\n# MAGIC # Title\n\n# COMMAND ----------\n\nraise ValueError(f'bad {x}')\n")
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "run_notebook.py"), str(notebook)],
                          capture_output=True, text=True)
    assert done.returncode == 1
    assert "FAILED: broken.py cell 3/3" in done.stderr and "ValueError: bad 1" in done.stderr
