"""The README as a new user meets it: every command block it marks runnable runs as written, every
job flag and every error class is documented. (tests/notebooks runs the notebooks it describes.)"""
import inspect
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

import sparkdl.errors

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
NOT_RUN = {"make test": "it is the test suite that runs this test"}


def runnable_commands(text: str) -> list:
    """Shell commands of the ```bash blocks right after a `<!-- runnable ... -->` line, with
    backslash continuations joined and comments dropped."""
    blocks = re.findall(r"<!-- runnable[^>]*-->\n```bash\n(.*?)```", text, flags=re.S)
    commands = []
    for block in blocks:
        joined = block.replace("\\\n", " ")
        for line in joined.splitlines():
            command = line.split("  #")[0].strip()
            if command and not command.startswith("#"):
                commands.append(" ".join(command.split()))
    return commands


def test_readme_opens_with_the_two_commands():
    first_block = re.search(r"```bash\n(.*?)```", README, flags=re.S).group(1)
    assert [line.split("#")[0].strip() for line in first_block.strip().splitlines()] == ["make demo", "make test"]


def test_every_job_flag_and_error_class_is_documented():
    for job in ("batch_score", "train", "stream_score"):
        source = (ROOT / "sparkdl" / "jobs" / f"{job}.py").read_text()  # jobs/*.py only run these
        flags = set(re.findall(r'add_argument\("(--[a-z-]+)"', source))
        missing = sorted(flag for flag in flags if flag not in README)
        assert not missing, f"sparkdl/jobs/{job}.py flags missing from the README: {missing}"
    classes = [name for name, value in inspect.getmembers(sparkdl.errors, inspect.isclass)
               if issubclass(value, sparkdl.errors.SparkDLError)]
    undocumented = [name for name in classes if f"| `{name}` |" not in README]
    assert len(classes) >= 9 and not undocumented, f"error classes missing from the README table: {undocumented}"
    for section in ("## Use it from Python", "## Use it from spark-submit", "## Use it on Databricks",
                    "## Use it on a Hadoop/YARN cluster", "## Configuration reference", "## Errors",
                    "## Benchmarks"):
        assert section in README


@pytest.mark.slow
def test_runnable_readme_commands_run_as_written():
    commands = runnable_commands(README)
    skipped = [command for command in commands if command in NOT_RUN]
    assert skipped == ["make test"], skipped
    run = [command for command in commands if command not in NOT_RUN]
    assert "make demo" in run and sum("spark-submit" in command for command in run) == 3, run
    script = "set -euo pipefail\n" + "\n".join(f"echo '+ {command}'\n{command}" for command in run)
    done = subprocess.run(["bash", "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=1200,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert done.returncode == 0, f"a README command failed:\n{done.stdout[-5000:]}\n{done.stderr[-5000:]}"
    summaries = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(summaries) == 3, done.stdout[-3000:]
    scored, trained, streamed = summaries
    assert scored["rows"] == 200_000 and (ROOT / "demo-output" / "scored").is_dir()
    assert (ROOT / "demo-output" / "trained" / "mlp.keras").is_file()
    assert (ROOT / "demo-output" / "trained" / "mlp.history.json").is_file()
    assert streamed["input_rows_recent"] == 200_000
