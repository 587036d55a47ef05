from segbench.metrics.boundary_f1 import BoundaryF1Score, boundary_f1_image
from segbench.metrics.collection import per_class_metrics, segmentation_metrics

__all__ = ["BoundaryF1Score", "boundary_f1_image", "per_class_metrics", "segmentation_metrics"]
