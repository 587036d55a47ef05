"""The Lightning data module: a data set folder read through its layout (CamVid's, SUN RGB-D's), uint8 batches out."""

from __future__ import annotations

import copy
import hashlib
import json
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.overrides.distributed import UnrepeatedDistributedSampler
from torch.utils.data import BatchSampler, DataLoader, Dataset, Sampler, SequentialSampler

from segbench.data.camvid import CLASS_NAMES, NUM_CLASSES, VOID_INDEX, CamVidLayout
from segbench.data.layouts import Layout
from segbench.data.resumable import ResumableLoader
from segbench.errors import DatasetError

WEIGHTS_CACHE_VERSION = 1


def _positive_pair(value: object) -> bool:
    return (
        not isinstance(value, str)
        and len(value) == 2
        and all(isinstance(side, int) and not isinstance(side, bool) and side > 0 for side in value)
    )


class LabelledImages(Dataset):
    """Decoded uint8 arrays served as (image CHW uint8, label HW uint8); float conversion happens on the device."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, names: Sequence[str]) -> None:
        self.images, self.labels, self.names = images, labels, list(names)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.from_numpy(self.images[index]).permute(2, 0, 1), torch.from_numpy(self.labels[index])


class Indexed(Dataset):
    """A split's (image, label) with the image's index in the split: the test loader's items, so that each image's
    scores are kept as its own (the per-image record; under DDP the processes' images are put back in order)."""

    def __init__(self, images: LabelledImages) -> None:
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        return (*self.images[index], index)


class BatchShard(Sampler[list[int]]):
    """The split in fixed order cut into batches of `batch_size`; batch `i` belongs to rank `i % world_size`.

    The ranks' batches are disjoint and together the single-process batches, each exactly as it
    would be there (batch-norm statistics are per-batch statistics).
    """

    def __init__(self, size: int, batch_size: int, rank: int = 0, world_size: int = 1) -> None:
        self.batches = BatchSampler(SequentialSampler(range(size)), batch_size, drop_last=False)
        self.rank, self.world_size = rank, world_size

    def __iter__(self) -> Iterator[list[int]]:
        return (batch for i, batch in enumerate(self.batches) if i % self.world_size == self.rank)

    def __len__(self) -> int:
        return len(range(self.rank, len(self.batches), self.world_size))


class SegmentationDataModule(pl.LightningDataModule):
    """Train/val/test splits of a data set folder, read through `layout` (where the files lie, what labels mean).

    One data module serves every data set: the config picks the layout (`dataset.layout`, Hydra-instantiated;
    `segbench.data.layouts` lists them), the data module does the rest (resizing, caching, loaders, DDP shares).

    Args:
        root: data set folder; None means the layout's environment variable ($CAMVID_ROOT), then `default_root`.
        resolution: [H, W] to resize to (bilinear images, nearest labels), None for native size.
        generator: optional callable writing the folder first (the synthetic road scenes).
        cache_dir: where decoded arrays and class weights are cached; None disables caching.
        shuffle_seed: seeds the training order of every epoch (`${seed}` in the configs); None draws one.
        layout: how the folder is laid out; None means CamVid's (`CamVidLayout`), which the synthetic scenes share.
        scoring_resolution: the label size G, C, mIoU and BF are computed at: "native" (the label files' own
            size, as the paper scores), "input" (the labels resized with the images, nearest neighbour), or
            [H, W]. Logits are upsampled bilinearly to it; training always uses labels at the input size.
    """

    def __init__(
        self,
        root: str | None = None,
        default_root: str = "data/camvid",
        resolution: Sequence[int] | None = None,
        batch_size: int = 12,
        eval_batch_size: int | None = None,
        num_workers: int = 0,
        num_classes: int = NUM_CLASSES,
        ignore_index: int = VOID_INDEX,
        class_names: Sequence[str] = CLASS_NAMES,
        cache_dir: str | None = None,
        generator: Callable[[Path], object] | None = None,
        progress: bool = True,
        shuffle_seed: int | None = None,
        layout: Layout | None = None,
        scoring_resolution: str | Sequence[int] = "native",
    ) -> None:
        super().__init__()
        self.root, self.default_root = root, default_root
        if resolution is not None and not _positive_pair(resolution):
            # Any positive size works: ceil-mode pooling and unpooling to the recorded size handle odd sides.
            raise DatasetError(f"dataset.resolution={list(resolution)} must be two positive integers [H, W]")
        self.resolution = tuple(resolution) if resolution is not None else None
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size or batch_size
        self.num_workers = num_workers
        self.num_classes, self.ignore_index = num_classes, ignore_index
        self.class_names = list(class_names)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.generator = generator
        self.progress = progress
        self.shuffle_seed = int(torch.randint(2**62, ())) if shuffle_seed is None else shuffle_seed
        self.layout = layout if layout is not None else CamVidLayout()
        if not (scoring_resolution in ("native", "input") or _positive_pair(scoring_resolution)):
            raise DatasetError(
                f"dataset.scoring_resolution={scoring_resolution} must be native, input or two positive integers"
            )
        self.scoring_resolution = (
            scoring_resolution if isinstance(scoring_resolution, str) else tuple(scoring_resolution)
        )
        self.splits: dict[str, LabelledImages] = {}
        self.scoring_splits: dict[str, LabelledImages] = {}
        self.validation_split = "val"

    @property
    def data_root(self) -> Path:
        if self.generator is not None:
            return Path(self.root or self.default_root)
        return self.layout.resolve_root(self.root, self.default_root)

    def prepare_data(self) -> None:
        if self.generator is not None:
            self.generator(self.data_root)
        # Every split's files are paired up front (a directory listing), so that a missing or empty test
        # split stops the run before training, not after it.
        for name in self.layout.splits:
            self.layout.list_pairs(self.data_root, name)

    def split(self, name: str) -> LabelledImages:
        if name not in self.splits:
            if (source := self.layout.source(name)) != name:
                # A split served as another (SUN RGB-D validating on test): the same arrays, decoded once.
                self.splits[name] = self.split(source)
                return self.splits[name]
            images, labels, names = self.layout.load_split(
                self.data_root,
                name,
                ignore_index=self.ignore_index,
                resolution=self.resolution,
                cache_dir=self.cache_dir,
                progress=self.progress,
            )
            self.splits[name] = LabelledImages(images, labels, names)
        return self.splits[name]

    def scoring_split(self, name: str) -> LabelledImages:
        """`split(name)`'s images with labels at the scoring resolution (the same object when that is the input's)."""
        wanted = None if self.scoring_resolution == "native" else self.scoring_resolution
        if self.scoring_resolution == "input" or wanted == self.resolution:
            return self.split(name)
        if name not in self.scoring_splits:
            inputs = self.split(name)
            source = self.layout.source(name)
            _, labels, _ = self.layout.load_split(
                self.data_root,
                source,
                ignore_index=self.ignore_index,
                resolution=wanted,
                cache_dir=self.cache_dir,
                progress=self.progress,
            )
            self.scoring_splits[name] = LabelledImages(inputs.images, labels, inputs.names)
        return self.scoring_splits[name]

    def scoring_size(self, name: str = "test") -> tuple[int, int]:
        """(H, W) of the label maps `name` is scored on."""
        return tuple(self.scoring_split(name).labels.shape[1:3])

    def setup(self, stage: str | None = None) -> None:
        needed = {
            "fit": ("train", "val"),
            "validate": (self.validation_split,),
            "test": ("test",),
            "predict": ("test",),
        }
        for name in needed.get(stage, self.layout.splits):
            self.split(name)

    def class_weights(self, balancing: Callable[..., torch.Tensor]) -> torch.Tensor:
        """Loss weights from the training labels, cached beside the decoded arrays.

        Keyed by a hash of the label arrays, the balancing and WEIGHTS_CACHE_VERSION (bump it when a
        weighting formula changes).
        """
        labels = self.split("train").labels
        cache_file = None
        if self.cache_dir is not None:
            digest = hashlib.sha1(labels.tobytes())
            name = getattr(balancing, "name", balancing)
            key = f"{WEIGHTS_CACHE_VERSION}/{name}/{self.num_classes}/{self.ignore_index}"
            digest.update(key.encode())
            cache_file = self.cache_dir / f"class-weights-{digest.hexdigest()[:16]}.json"
            if cache_file.is_file():
                return torch.tensor(json.loads(cache_file.read_text()))
        weights = balancing(labels, self.num_classes, self.ignore_index)
        if cache_file is not None:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            partial = cache_file.with_suffix(f".tmp-{os.getpid()}")
            partial.write_text(json.dumps(weights.tolist()))
            partial.replace(cache_file)  # atomic: parallel jobs never read a half-written file
        return weights

    def _loader(self, split: str, batch_size: int) -> DataLoader:
        """The split in fixed order; under DDP this process's share of it, each image on exactly one process.

        Lightning would otherwise give an evaluation loader a DistributedSampler, which pads the split
        with repeated images up to a multiple of the number of processes: their pixels would be
        counted twice in G, C, mIoU, BF and the confusion matrix. Shares may differ by one image, so
        processes may run different numbers of batches: evaluation syncs only at the first batch (DDP's
        buffer broadcast, hence at least one image per process) and at the end, where the metrics add
        up every process's counts.
        """
        workers = {"num_workers": self.num_workers, "persistent_workers": self.num_workers > 0}
        rank, world_size = self._distributed()
        scored: Dataset = self.scoring_split(split)
        if split == "test":
            scored = Indexed(scored)
        if world_size == 1:
            return DataLoader(scored, batch_size=batch_size, shuffle=False, **workers)
        shard = UnrepeatedDistributedSampler(scored, num_replicas=world_size, rank=rank, shuffle=False)
        return DataLoader(scored, batch_size=batch_size, sampler=shard, **workers)

    def _distributed(self) -> tuple[int, int]:
        """(rank, number of processes) of the trainer this module is attached to; (0, 1) when there is none."""
        trainer = self.trainer
        return (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)

    def train_dataloader(self) -> ResumableLoader:
        # Sec. 3.2: shuffle before each epoch, then take mini-batches in order (each image once).
        # Under DDP Lightning rebuilds it with a DistributedSampler, from which it takes its shard.
        workers = {"num_workers": self.num_workers, "persistent_workers": self.num_workers > 0}
        return ResumableLoader(self.split("train"), self.batch_size, seed=self.shuffle_seed, **workers)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.validation_split, self.eval_batch_size)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", self.eval_batch_size)

    def ordered_train_dataloader(self, rank: int = 0, world_size: int = 1) -> DataLoader:
        """The training split in fixed order at the training batch size (batch-norm statistics depend on it).

        With `world_size` > 1: rank `rank`'s share of those same batches (see BatchShard).
        """
        workers = {"num_workers": self.num_workers, "persistent_workers": self.num_workers > 0}
        batches = BatchShard(len(self.split("train")), self.batch_size, rank, world_size)
        return DataLoader(self.split("train"), batch_sampler=batches, **workers)

    def sequences(self, split: str) -> dict[str, list[int]]:
        """The indices of each video sequence's images in `split`, by sequence name in sorted order (empty when
        the layout knows no sequences)."""
        groups: dict[str, list[int]] = {}
        for index, name in enumerate(self.split(split).names):
            if (sequence := self.layout.sequence(name)) is not None:
                groups.setdefault(sequence, []).append(index)
        return dict(sorted(groups.items()))

    def image_sequences(self, split: str) -> list[str]:
        """Each image's video sequence in `split`, in the split's order ("" where the layout knows none)."""
        return [self.layout.sequence(name) or "" for name in self.split(split).names]

    def validating_on(self, split: str) -> SegmentationDataModule:
        """A view of this data module that validates on `split` (Table 1 also scores the training images).

        It shares the decoded arrays; only what `val_dataloader` serves changes.
        """
        view = copy.copy(self)
        view.validation_split = split
        return view
