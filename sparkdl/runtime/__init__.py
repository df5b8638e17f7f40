"""The executor runtime shared by scoring, training and streaming.

    models  ship a model: resolve + pack + broadcast (driver); unpack + per-worker cache (executor)
    worker  set up a Python worker and place each task (GPU or CPU thread budget, gc policy)
    schema  bind DataFrame columns to model inputs and outputs (driver)

`inference/`, `training/` and `streaming/` share code only through this package's public names.
"""
