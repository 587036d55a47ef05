from segbench.callbacks.bn_statistics import BatchNormStatistics, recompute_batch_norm_statistics

__all__ = ["BatchNormStatistics", "recompute_batch_norm_statistics"]
