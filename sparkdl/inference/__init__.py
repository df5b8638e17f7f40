"""Batch scoring: `predict` (driver), the executor function, the per-worker model cache."""
