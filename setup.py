"""sparkdl: run TensorFlow models where the data lives, on Apache Spark."""
import re
from pathlib import Path

from setuptools import find_packages, setup

VERSION = re.search(
    r'__version__ = "([^"]+)"', Path(__file__).with_name("sparkdl").joinpath("__init__.py").read_text()
).group(1)

# Spark comes from the cluster (Databricks, EMR, YARN archives): never a requirement, so installing
# sparkdl never replaces a cluster's pyspark (or Databricks Connect). 3.5: everything but
# register_udf and the Kafka source without Spark's connector; 4.1+: everything.
SPARK = "pyspark>=3.5,<5"
TENSORFLOW = "tensorflow>=2.16"     # Keras 3; use tensorflow-cpu on machines without a GPU
JOBS = {"sparkdl-batch-score": "batch_score", "sparkdl-train": "train", "sparkdl-stream-score": "stream_score"}

setup(
    name="sparkdl-tf",  # PyPI's "sparkdl" is an unrelated 2018 project; the import name stays sparkdl
    version=VERSION,
    description="Batch scoring, distributed training and streaming for TensorFlow models on Apache Spark",
    long_description=Path(__file__).with_name("README.md").read_text(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["sparkdl", "sparkdl.*"]),
    python_requires=">=3.10",
    install_requires=[  # what the cluster's Python usually has already; pandas comes with pyspark[sql]
        "numpy>=1.23",
        "pyarrow>=14",
    ],
    entry_points={"console_scripts": [f"{name}=sparkdl.jobs.{module}:console_main" for name, module in JOBS.items()]},
    extras_require={
        # The cluster usually provides Spark and TensorFlow; these extras install them elsewhere.
        "spark": [SPARK, "pandas>=2,<3"],  # pyspark 4.x warns on pandas 3
        "connect": ["pyspark[connect]>=3.5,<5", "pandas>=2,<3"],  # a Spark Connect client (sc://...)
        "tf": [TENSORFLOW],
        "hdfs": ["hdfs>=2.7", "fsspec>=2023.1"],  # WebHDFS: sparkdl.fs without a session; score_files
        "kafka": ["confluent-kafka>=2.3"],
        "mlflow": ["mlflow>=3.1,<4"],  # models:/ and runs:/ URIs, train(..., mlflow=True); mlflow-skinny suffices
        # tqdm: train's progress bar inside an epoch in interactive sessions (optional: a log counter without it)
        "notebooks": ["matplotlib>=3.7", "jupytext>=1.16", "nbclient>=0.10", "ipykernel>=6", "tqdm>=4.60"],
        "bench": ["ray[data]==2.60.0", "daft==0.7.26"],  # bench/inference.py's peers (skipped without them)
        "test": [
            # [connect]: the client libraries; tests/connect runs a Connect server from the pyspark wheel
            "pyspark[connect]==4.3.0; python_version >= '3.11'",  # 4.3 needs Python 3.11
            "pyspark[connect]==4.2.1; python_version < '3.11'",
            "pandas>=2,<3",
            "tensorflow-cpu==2.21.0",
            "hdfs>=2.7",
            "confluent-kafka>=2.3",
            "mlflow==3.17.2",  # tests/mlflow runs `mlflow server`, which needs the full package
            "pytest>=8",
            "tqdm>=4.60",  # tests/unit/test_progress.py checks train's progress bar
            "pytest-timeout>=2.3",
            "pytest-xdist>=3.5",  # `make test` runs two workers: most tests wait on JVMs and streams, not CPU
            "fsspec>=2023.1",  # score_files over WebHDFS (tests/hdfs)
            "matplotlib>=3.7",  # the notebooks save their plots; tests/notebooks checks them
            "pillow>=10",  # tests and bench/images.py write real JPEG/PNG/GIF/BMP files (and decode them the PIL way)
            "scikit-learn>=1.3",  # its two sample photos (china.jpg, flower.jpg) for image scoring tests
        ],
    },
    classifiers=["Programming Language :: Python :: 3", "Topic :: Scientific/Engineering :: Artificial Intelligence"],
)
