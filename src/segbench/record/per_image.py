"""A run's per-image record: each scored test image's confusion matrix and boundary counts, in `per_image.npz`
beside results.json (or eval.json), so that G/C/mIoU/BF of any subset of the test images (a sequence, a bootstrap
resample) are recomputed exactly without the checkpoint."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from segbench.errors import SegbenchError
from segbench.metrics.per_image import split_scores

PER_IMAGE_FILE = "per_image.npz"
_ARRAYS = ("names", "sequences", "class_names", "confusion", "boundary")


@dataclass(frozen=True)
class PerImageRecord:
    """names[i], sequences[i] ("" when the data set has none), confusion[i] (K, K; rows truth) and boundary[i]
    (K, 4: predicted, ground-truth, matched-predicted, matched-ground-truth boundary pixels; -1: class not counted)
    of test image i, in the split's order."""

    names: np.ndarray
    sequences: np.ndarray
    class_names: np.ndarray
    confusion: np.ndarray
    boundary: np.ndarray

    def __len__(self) -> int:
        return len(self.names)

    def scores(self, images: np.ndarray | None = None) -> dict[str, float]:
        """G, C, mIoU, BF (fractions) of the images selected by `images` (indices or a mask; all when None).
        An index may repeat (a bootstrap resample counts the image again)."""
        chosen = slice(None) if images is None else images
        return split_scores(self.confusion[chosen], self.boundary[chosen])

    def by_sequence(self) -> dict[str, dict[str, float]]:
        """Each video sequence's image count and scores ({} unless the split has two or more sequences)."""
        names = sorted(set(self.sequences.tolist()) - {""})
        if len(names) < 2:
            return {}
        return {
            name: {"images": int((self.sequences == name).sum()), **self.scores(self.sequences == name)}
            for name in names
        }

    def save(self, path: Path) -> Path:
        """Write the record (compressed); atomically, so that a reader never sees half a file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.tmp.npz")
        np.savez_compressed(
            partial,
            names=self.names.astype(str),
            sequences=self.sequences.astype(str),
            class_names=self.class_names.astype(str),
            confusion=self.confusion.astype(np.int32),
            boundary=self.boundary.astype(np.int32),
        )
        partial.replace(path)
        return path

    @classmethod
    def load(cls, path: Path) -> PerImageRecord:
        """The record in `path`; one line naming the file and the array when it is broken or foreign."""
        try:
            with np.load(path, allow_pickle=False) as arrays:
                missing = [name for name in _ARRAYS if name not in arrays.files]
                if missing:
                    raise SegbenchError(f"{path}: not a per-image record (no {', '.join(missing)})")
                record = cls(**{name: arrays[name] for name in _ARRAYS})
        except (OSError, ValueError, zipfile.BadZipFile) as error:
            raise SegbenchError(f"cannot read {path}: {error}") from None
        images, classes = len(record.names), len(record.class_names)
        expected = {
            "sequences": (images,),
            "confusion": (images, classes, classes),
            "boundary": (images, classes, 4),
        }
        for name, shape in expected.items():
            if getattr(record, name).shape != shape:
                raise SegbenchError(
                    f"{path}: {name} has shape {getattr(record, name).shape}, not {shape} "
                    f"({images} images, {classes} classes)"
                )
        return record
