from segbench.metrics.boundary_f1 import BoundaryF1Score, boundary_f1_image
from segbench.metrics.collection import per_class_metrics, segmentation_metrics
from segbench.metrics.histogram import Histogram

__all__ = ["BoundaryF1Score", "Histogram", "boundary_f1_image", "per_class_metrics", "segmentation_metrics"]
