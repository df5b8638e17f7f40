"""Log lines name their module once (`sparkdl.training.loop: epoch ...`), never with a second prefix."""
import re
import subprocess
import sys
from pathlib import Path

import sparkdl

SOURCE = Path(sparkdl.__file__).parent


def test_default_handler_prints_the_module_logger_name_once():
    script = ("import logging; from sparkdl.training import progress; progress.ensure_handler(); "
              "logging.getLogger('sparkdl.training.loop').info('epoch 1/2 loss=0.5')")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert re.fullmatch(r"\S+ \S+ INFO sparkdl\.training\.loop: epoch 1/2 loss=0\.5\n", done.stderr), done.stderr


def test_every_module_logs_under_its_own_name_without_a_sparkdl_prefix():
    for path in SOURCE.rglob("*.py"):
        text = path.read_text()
        assert 'log = logging.getLogger("sparkdl")\n' not in text, path  # module loggers: getLogger(__name__)
        assert not re.search(r'log\.(debug|info|warning|error)\(\s*f?"sparkdl: ', text), path
