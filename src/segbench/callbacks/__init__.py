from segbench.callbacks.bn_statistics import BatchNormStatistics, recompute_batch_norm_statistics
from segbench.callbacks.graceful_interrupt import GracefulInterrupt
from segbench.callbacks.rng_state import RngStateCheckpoint

__all__ = ["BatchNormStatistics", "GracefulInterrupt", "RngStateCheckpoint", "recompute_batch_norm_statistics"]
