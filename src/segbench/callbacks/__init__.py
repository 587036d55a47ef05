from segbench.callbacks.bn_statistics import BatchNormStatistics, recompute_batch_norm_statistics
from segbench.callbacks.graceful_interrupt import GracefulInterrupt
from segbench.callbacks.milestones import MilestoneCheckpoints, milestone_checkpoints
from segbench.callbacks.rng_state import RngStateCheckpoint

__all__ = [
    "BatchNormStatistics",
    "GracefulInterrupt",
    "MilestoneCheckpoints",
    "RngStateCheckpoint",
    "milestone_checkpoints",
    "recompute_batch_norm_statistics",
]
