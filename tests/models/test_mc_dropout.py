"""Bayesian SegNet-Basic and Monte Carlo dropout at test time (beyond the paper; `segbench.models.mc_dropout`)."""

from __future__ import annotations

import json
import math

import pytest
import torch
from test_entry_points import PINNED_PRECISION, QUIET_TRAINING, TINY_SYNTHETIC, check, run
from torch import nn

from segbench.models import count_parameters
from segbench.models.mc_dropout import dropout_active, dropout_layers, mc_softmax, predictive_entropy


def test_bayesian_segnet_basic_is_segnet_basic_with_the_releases_central_dropout(build_model):
    net = build_model("bayesian/segnet_basic")
    assert count_parameters(net) == count_parameters(build_model("segnet_basic")) == 1_416_075
    encoder = [block.dropout.p if isinstance(block.dropout, nn.Dropout) else 0 for block in net.encoder.blocks]
    decoder = [sum(m.p for m in stage.densify if isinstance(m, nn.Dropout)) for stage in net.decoder.stages]
    assert encoder == [0, 0, 0.5, 0.5]  # after pool3 and pool4 (encdrop3, encdrop4)
    assert decoder == [0, 0, 0.5, 0.5]  # after the two deepest decoders (decdrop4, decdrop3)


def test_sampling_turns_on_dropout_only_and_restores_the_modes(build_model):
    net = build_model("bayesian/segnet_basic").eval()
    with dropout_active(net):
        assert all(layer.training for layer in dropout_layers(net))
        assert not any(m.training for m in net.modules() if isinstance(m, nn.BatchNorm2d))
    assert not any(m.training for m in net.modules())


def test_mc_softmax_averages_samples_that_differ(build_model):
    net = build_model("bayesian/segnet_basic").eval()
    image = torch.rand(1, 3, 24, 32, generator=torch.Generator().manual_seed(0)) * 255
    torch.manual_seed(1)
    one = mc_softmax(net, image, 1)
    torch.manual_seed(1)
    assert torch.equal(mc_softmax(net, image, 1), one)  # one sample is one stochastic pass, seeded
    many = mc_softmax(net, image, 8, size=(48, 64))
    assert many.shape == (1, 11, 48, 64) and torch.allclose(many.sum(dim=1), torch.ones(1, 48, 64))
    with torch.no_grad():
        deterministic = net(image).softmax(dim=1)
    assert not torch.allclose(one, deterministic)


def test_without_dropout_mc_softmax_is_the_deterministic_softmax(build_model):
    net = build_model("segnet_basic").eval()
    image = torch.rand(1, 3, 24, 32) * 255
    with torch.no_grad():
        assert torch.allclose(mc_softmax(net, image, 5), net(image).softmax(dim=1))


def test_predictive_entropy_is_normalised_by_log_k():
    probabilities = torch.tensor([[0.25, 0.25, 0.25, 0.25], [1.0, 0.0, 0.0, 0.0], [0.5, 0.5, 0.0, 0.0]])
    entropy = predictive_entropy(probabilities.T.reshape(1, 4, 3, 1))[0, :, 0]
    assert entropy.tolist() == pytest.approx([1.0, 0.0, math.log(2) / math.log(4)])


def test_eval_with_mc_samples_reports_both_passes_and_the_entropy_of_right_and_wrong_pixels(tmp_path):
    """A network without dropout samples its deterministic pass: the two scores must then agree exactly."""
    for model in ("segnet_basic", "bayesian/segnet_basic"):
        folder = tmp_path / model.replace("/", "_")
        training = [*TINY_SYNTHETIC, *QUIET_TRAINING, f"model={model}", "trainer.max_epochs=1"]
        check(run("train.py", tmp_path, *training, f"hydra.run.dir={folder}/run"))
        checkpoint = json.loads((folder / "run" / "results.json").read_text())["best_checkpoint"] or next(
            (folder / "run" / "checkpoints").glob("*.ckpt")
        )
        check(
            run(
                "eval.py",
                tmp_path,
                *TINY_SYNTHETIC,
                *PINNED_PRECISION["eval.py"],
                f"ckpt_path={checkpoint}",
                "mc_samples=4",
                f"hydra.run.dir={folder}/eval",
            )
        )
        scores = json.loads((folder / "eval" / "eval.json").read_text())
        for metric in ("G", "C", "mIoU", "BF"):
            assert f"test_deterministic/{metric}" in scores
        assert 0 <= scores["test/entropy_right"] <= 1
        # every labelled test pixel is counted once, in the histogram of the right or of the wrong ones
        histogram, labelled = scores["entropy_histogram"], sum(map(sum, scores["confusion"]))
        assert (len(histogram["edges"]), scores["mc_samples"]) == (21, 4)
        assert sum(histogram["right"]) + sum(histogram["wrong"]) == labelled > 0
        if model == "segnet_basic":
            for metric in ("G", "C", "mIoU", "BF"):
                assert scores[f"test/{metric}"] == scores[f"test_deterministic/{metric}"]
