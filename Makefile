# The project's front door: `make demo`, `make test`, `make bench`, `make lint`.
# Each target bootstraps .venv from setup.py on a machine with only Python 3.10+ and Java 17.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.sparkdl-installed
export PYSPARK_PYTHON := $(abspath $(PY))
export PYSPARK_DRIVER_PYTHON := $(abspath $(PY))
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: venv demo test test-fast test-compat test-matrix services bench lint clean

venv: $(STAMP)

$(STAMP): setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip uninstall --quiet --yes sparkdl 2>/dev/null || true  # this package's old name
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) scripts/demo.py

# The whole suite, including tests/compat (a subset under pyspark 3.5, installed once into .cache/compat)
# and tests/connect (a Spark Connect server from the pyspark wheel). Three workers on 2 cores: with two,
# the suite kept the cores only ~47% busy (it waits on JVM start-ups, brokers and polling loops).
test: $(STAMP)
	$(PY) -m pytest -n 3 --dist loadfile

test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow and not cluster and not kafka and not hdfs"

test-compat: $(STAMP)
	$(PY) -m pytest tests/compat tests/connect

# The compatibility subset under other Pythons and pysparks (PYTHON:PYSPARK cells; venvs cached in
# .cache/matrix, cells whose interpreter this machine lacks are skipped). Not part of `make test`:
# each new venv downloads TensorFlow for that Python (about 6 minutes here) before its ~6-minute run.
MATRIX ?= 3.12:4.0.5 3.12:4.1.4 3.10:4.2.1
test-matrix: $(STAMP)
	$(PY) scripts/matrix.py $(MATRIX)

# A real HDFS (NameNode + DataNode, WebHDFS) and Apache Kafka (KRaft) until Ctrl-C; prints their addresses.
services: $(STAMP)
	$(PY) -m scripts.services

bench: $(STAMP)
	$(PY) bench/inference.py
	$(PY) bench/training.py
	$(PY) bench/streaming.py
	$(PY) bench/images.py

lint: $(STAMP)
	$(PY) -m pip install --quiet ruff
	$(PY) -m ruff check sparkdl jobs bench tests scripts notebooks

clean:
	rm -rf $(VENV) demo-output bench-output .pytest_cache .cache/compat
