from segbench.data.balancing import MedianFrequencyBalancing, NaturalBalancing, median_frequency_weights
from segbench.data.datamodule import LabelledImages, SegmentationDataModule

__all__ = [
    "LabelledImages",
    "MedianFrequencyBalancing",
    "NaturalBalancing",
    "SegmentationDataModule",
    "median_frequency_weights",
]
