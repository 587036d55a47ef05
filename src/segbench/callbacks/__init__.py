from segbench.callbacks.bn_statistics import BatchNormStatistics, recompute_batch_norm_statistics
from segbench.callbacks.graceful_interrupt import GracefulInterrupt
from segbench.callbacks.milestones import MilestoneCheckpoints, milestone_checkpoints
from segbench.callbacks.rng_state import RngStateCheckpoint
from segbench.callbacks.wandb_panels import PredictionImages, log_selected

__all__ = [
    "BatchNormStatistics",
    "GracefulInterrupt",
    "MilestoneCheckpoints",
    "PredictionImages",
    "RngStateCheckpoint",
    "log_selected",
    "milestone_checkpoints",
    "recompute_batch_norm_statistics",
]
