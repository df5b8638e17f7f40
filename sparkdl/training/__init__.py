"""Distributed training: `train()` (driver loop), shard preparation, executor rounds, checkpoints."""
