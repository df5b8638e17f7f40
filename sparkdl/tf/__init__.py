"""The only package that imports TensorFlow. It never imports pyspark.

Imported lazily: on the driver when a model is described, on executors when a model is loaded.
"""
