from segbench.metrics.collection import segmentation_metrics

__all__ = ["segmentation_metrics"]
