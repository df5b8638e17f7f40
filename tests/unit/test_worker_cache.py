"""The per-worker model cache evicts for real: the gc policy must not pin evicted models."""
import json
import subprocess
import sys

import pytest

from tests.integration.sparkproc import ROOT

pytestmark = pytest.mark.slow


def test_a_worker_that_sees_six_models_keeps_only_four(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "tests/unit/eviction_probe.py"), str(tmp_path)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["loads"] == 6
    assert report["alive"] == [False, False, True, True, True, True]
    rss = report["rss"]
    # rss[i]: after i loads. Models 5 and 6 (48 MB of weights each) replace models 1 and 2, so
    # memory grows far less over those two loads than over the first four
    assert rss[6] - rss[4] < 0.5 * (rss[4] - rss[0]) / 2, rss
