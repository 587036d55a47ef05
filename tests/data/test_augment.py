"""Training-time augmentation: flips, rescaling with crop or void padding; applied in training only."""

from __future__ import annotations

import torch
from torch.nn import functional as F

from segbench.data.augment import FlipScaleCrop

VOID = 11


def batch() -> tuple[torch.Tensor, torch.Tensor]:
    labels = torch.arange(8 * 12).view(1, 8, 12) % 11
    return labels[:, None].float().expand(1, 3, 8, 12).clone(), labels


def test_a_certain_flip_at_scale_one_mirrors_images_and_labels():
    images, labels = batch()
    flipped_images, flipped_labels = FlipScaleCrop(VOID, flip=1.0, scale=(1.0, 1.0))(images, labels)
    assert torch.equal(flipped_images, images.flip(-1)) and torch.equal(flipped_labels, labels.flip(-1))


def test_zooming_in_keeps_the_size_and_crops_the_upsampled_labels():
    torch.manual_seed(0)
    images, labels = batch()
    _, zoomed = FlipScaleCrop(VOID, flip=0.0, scale=(2.0, 2.0))(images, labels)
    assert zoomed.shape == labels.shape
    upsampled = F.interpolate(labels[:, None].float(), size=(16, 24), mode="nearest")[:, 0].long()
    crops = [upsampled[:, y : y + 8, x : x + 12] for y in range(9) for x in range(13)]
    assert any(torch.equal(zoomed, crop) for crop in crops)


def test_zooming_out_pads_with_void_labels_and_black_pixels():
    torch.manual_seed(0)
    images, labels = batch()
    shrunk_images, shrunk = FlipScaleCrop(VOID, flip=0.0, scale=(0.5, 0.5))(images, labels)
    assert shrunk.shape == labels.shape and int((shrunk == VOID).sum()) >= 8 * 12 - 4 * 6
    padded = (shrunk == VOID).expand(1, 8, 12).unsqueeze(1).expand_as(shrunk_images)
    assert float(shrunk_images[padded].abs().sum()) == 0.0  # pixels 0..10 are labels; void only where padded


def test_the_task_augments_training_batches_only(tiny_task):
    task = tiny_task(augment={"_target_": "segbench.data.augment.FlipScaleCrop", "flip": 1.0, "scale": [1.0, 1.0]})
    images, labels = batch()
    uint8_batch = (images.to(torch.uint8), labels.to(torch.uint8))
    task.train()
    _, trained_on = task.on_after_batch_transfer(uint8_batch, 0)
    task.eval()
    _, scored_on = task.on_after_batch_transfer(uint8_batch, 0)
    assert torch.equal(trained_on, labels.flip(-1)) and torch.equal(scored_on, labels)


def test_image_and_labels_are_cropped_and_padded_at_the_same_position():
    """Each image pixel holds its label + 1 (never 0): the padding's black pixels and void labels must coincide, and
    a zoom of 1 keeps every pixel with its own label — whatever position is drawn."""
    labels = torch.arange(8 * 12).view(1, 8, 12) % 11
    images = (labels + 1)[:, None].float().expand(1, 3, 8, 12).clone()
    for seed in range(20):
        torch.manual_seed(seed)
        shrunk_images, shrunk = FlipScaleCrop(VOID, flip=0.5, scale=(0.5, 0.5))(images, labels)
        assert torch.equal(shrunk_images[:, 0] == 0, shrunk == VOID)
        torch.manual_seed(seed)
        same_images, same = FlipScaleCrop(VOID, flip=0.5, scale=(1.0, 1.0))(images, labels)
        assert torch.equal(same_images[:, 0].long() - 1, same)
