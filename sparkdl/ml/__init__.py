"""Spark ML wrappers (driver side): `TFTransformer` scores inside a `Pipeline` and persists with it;
`KerasEstimator` trains with `sparkdl.train` and returns a TFTransformer.

Both follow Spark ML's conventions: `@keyword_only` constructors, `setParams` that changes only
the params it is given (None puts one back to its default), a getter and a setter per param, and
values checked when they are set (ConfigError), not when the stage runs.

Saving either stage copies its model into `<path>/model/` next to the params, so a saved Pipeline
is self-contained: it loads and runs on another cluster even when the original model path is gone.
"""
from .estimator import KerasEstimator
from .transformer import TFTransformer

__all__ = ["TFTransformer", "KerasEstimator"]
