"""predict.py: label maps and overlays at the image's own size, from a weights file, a checkpoint or the shipped one."""

from __future__ import annotations

import copy
import hashlib
import json
import re
import shlex

import numpy as np
import pytest
import torch
from conftest import markdown_rows
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import OmegaConf
from PIL import Image
from test_entry_points import TINY_SYNTHETIC, check, run

from segbench.data.camvid import CLASS_NAMES, COLOURS
from segbench.inference import predict_labels
from segbench.models import count_parameters
from segbench.predict import colour_overlay, predict_image
from segbench.pretrained import load_predictor, load_weights, save_weights, shipped_weights
from segbench.pretrained import main as pretrained_main
from segbench.utils.config import CONF_DIR, compose_model

TRAINED_AT = (24, 32)


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """A weights file of a (random) SegNet-Basic "trained" at 24x32, written from a checkpoint-shaped dict."""
    folder = tmp_path_factory.mktemp("weights")
    torch.manual_seed(0)
    net = compose_model("segnet_basic")
    with torch.no_grad():  # non-trivial BN statistics, so that eval mode matters
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-1, 1)
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR)):
        model_config = OmegaConf.to_yaml(compose("train", overrides=["model=segnet_basic"]).model, resolve=True)
    checkpoint = {
        "state_dict": {f"net.{name}": tensor for name, tensor in net.state_dict().items()},
        "hyper_parameters": {
            "model_config": model_config,
            "data_resolution": list(TRAINED_AT),
            "class_names": list(CLASS_NAMES),
        },
    }
    torch.save(checkpoint, folder / "run.ckpt")
    return save_weights(folder / "run.ckpt", folder / "net.pt"), net.eval()


def test_a_weights_file_rebuilds_the_network_with_its_weights_rounded_to_bfloat16(weights):
    path, net = weights
    stored = torch.load(path, map_location="cpu", weights_only=True)["state_dict"]
    assert {t.dtype for t in stored.values() if t.is_floating_point()} == {torch.bfloat16}
    assert stored["encoder.blocks.0.features.1.num_batches_tracked"].dtype == torch.int64
    predictor = load_weights(path)
    assert predictor.input_resolution == TRAINED_AT and predictor.class_names == list(CLASS_NAMES)
    assert predictor.ignore_index == 11
    loaded = predictor.net.state_dict()
    for name, tensor in net.state_dict().items():
        expected = tensor.bfloat16().float() if tensor.is_floating_point() else tensor
        assert loaded[name].dtype == tensor.dtype and torch.equal(loaded[name], expected), name
    rounded = copy.deepcopy(net)
    rounded.load_state_dict({name: tensor.bfloat16() for name, tensor in net.state_dict().items()})
    image = torch.rand(1, 3, 24, 32) * 255
    with torch.no_grad():
        assert torch.equal(predictor.net(image), rounded(image))


def test_eval_py_scores_a_weights_file_with_the_files_own_network(weights, tmp_path):
    path, _ = weights
    data = [*TINY_SYNTHETIC, f"paths.data_dir={tmp_path}/data"]
    result = run("eval.py", tmp_path, f"ckpt_path={path}", *data, f"hydra.run.dir={tmp_path}/eval")
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "eval" / "eval.json").read_text())
    assert report["input_resolution"] == list(TRAINED_AT)  # scored at the size the file was trained at
    assert report["scoring_resolution"] == [48, 64]  # on the native labels
    # The same file's network predicting the same test images by hand gives eval's global accuracy.
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR)):
        datamodule = instantiate(compose("eval", overrides=data).dataset)
    datamodule.resolution = TRAINED_AT
    datamodule.prepare_data()
    scored = datamodule.scoring_split("test")
    predicted = predict_labels(load_weights(path).net, scored.images, (48, 64))
    valid = scored.labels != 11
    assert valid.sum() == sum(map(sum, report["confusion"]))
    assert report["test/G"] == pytest.approx((predicted == scored.labels)[valid].mean(), abs=1e-6)


def test_the_network_sees_its_training_size_and_the_labels_come_back_at_the_images(weights):
    predictor = load_weights(weights[0])
    seen = []
    predictor.net.register_forward_pre_hook(lambda module, args: seen.append(tuple(args[0].shape[-2:])))
    image = np.random.default_rng(0).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    labels = predict_image(predictor, image, resize="training").labels
    assert labels.shape == (37, 53) and labels.dtype == np.uint8 and labels.max() < 11
    as_given = predict_image(predictor, image, resize="input").labels
    assert seen == [TRAINED_AT, (37, 53)] and as_given.shape == (37, 53)


def test_the_overlay_blends_the_class_colour_over_the_image():
    image = np.full((1, 2, 3), 100, dtype=np.uint8)
    labels = np.array([[0, 8]], dtype=np.uint8)  # Sky (128,128,128), Car (64,0,128)
    assert colour_overlay(image, labels, 0.5).tolist() == [[[114, 114, 114], [82, 50, 114]]]
    assert COLOURS[8] == (64, 0, 128)


def test_predict_py_writes_each_image_and_names_the_ones_it_cannot_read(weights, tmp_path):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    rng = np.random.default_rng(1)
    for name, size in (("a.png", (30, 40)), ("b.jpg", (24, 32))):
        Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(inputs / name)
    (inputs / "broken.png").write_text("not an image")
    (inputs / "notes.txt").write_text("ignored: not an image suffix")
    result = run("predict.py", tmp_path, f"inputs={inputs}", f"ckpt_path={weights[0]}", f"out={tmp_path}/out")
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(f"error: {inputs / 'broken.png'}: not a readable image")
    assert result.stdout.strip().splitlines()[-1] == f"2 image(s) segmented into {tmp_path}/out; 1 skipped"
    labels = np.asarray(Image.open(tmp_path / "out" / "a_labels.png"))
    expected = predict_image(load_weights(weights[0]), np.asarray(Image.open(inputs / "a.png").convert("RGB"))).labels
    assert np.array_equal(labels, expected)
    overlay = np.asarray(Image.open(tmp_path / "out" / "b_overlay.png"))
    assert overlay.shape == (24, 32, 3)


def test_a_predict_sweep_ends_with_each_jobs_record_and_exit_status_0(weights, tmp_path):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    Image.fromarray(np.full((30, 40, 3), 90, dtype=np.uint8)).save(inputs / "a.png")
    overrides = (f"inputs={inputs}", f"ckpt_path={weights[0]}", "resize=training,input", "progress=false")
    check(run("predict.py", tmp_path, "--multirun", *overrides))
    (sweep,) = (tmp_path / "logs" / "predict" / "multiruns").iterdir()
    records = {json.loads((sweep / job / "predict.json").read_text())["resize"]: job for job in ("0", "1")}
    assert records == {"training": "0", "input": "1"}
    for job in ("0", "1"):
        record = json.loads((sweep / job / "predict.json").read_text())
        assert record["labels"] == ["a_labels.png"] and (sweep / job / "a_labels.png").is_file()


def test_predict_py_segments_with_the_shipped_file_named_or_by_default(tmp_path):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    image = np.random.default_rng(2).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    Image.fromarray(image).save(inputs / "a.png")
    shipped = shipped_weights()
    overrides = (f"inputs={inputs}", f"ckpt_path=null,{shipped}", "progress=false")
    check(run("predict.py", tmp_path, "--multirun", *overrides))
    (sweep,) = (tmp_path / "logs" / "predict" / "multiruns").iterdir()
    expected = predict_image(load_predictor(None), image).labels
    for job in ("0", "1"):
        assert np.array_equal(np.asarray(Image.open(sweep / job / "a_labels.png")), expected)
    assert json.loads((sweep / "1" / "predict.json").read_text())["network"] == str(shipped)


def test_predict_py_without_images_is_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    result = run("predict.py", tmp_path, f"inputs={tmp_path / 'empty'}")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: inputs={tmp_path / 'empty'} holds no images")


def test_the_shipped_weights_are_segnet_basic_trained_on_camvid():
    predictor = load_predictor(None)
    assert count_parameters(predictor.net) == 1_416_075 and predictor.input_resolution == (120, 160)
    assert predictor.class_names == list(CLASS_NAMES)


@pytest.mark.slow
def test_ship_writes_bfloat16_weights_and_a_card_scored_from_the_file_itself(tmp_path, monkeypatch, capsys):
    """Here as the shipped model would be bettered: a run fine-tuned from the shipped file, whose card then names
    the file it started from."""
    shipped = shipped_weights()
    fine_tuned = ("trainer.max_epochs=1", f"init_from={shipped}", f"hydra.run.dir={tmp_path}/run")
    check(run("train.py", tmp_path, *TINY_SYNTHETIC, *fine_tuned))
    monkeypatch.setenv("SEGBENCH_ROOT", str(tmp_path))  # the run's data, for the scoring eval.py
    monkeypatch.chdir(tmp_path)
    (tmp_path / "committed").mkdir()
    (tmp_path / "committed" / "results.json").write_text((tmp_path / "run" / "results.json").read_text())
    # A file the run beats on validation G: the shipped network with every weight zeroed (one class everywhere).
    zeroed = torch.load(shipped, map_location="cpu", weights_only=True)
    zeroed["state_dict"] = {
        k: torch.zeros_like(v) if v.is_floating_point() else v for k, v in zeroed["state_dict"].items()
    }
    (tmp_path / "shipped").mkdir()
    torch.save(zeroed, tmp_path / "shipped" / "net.pt")
    pretrained_main(["ship", str(tmp_path / "run"), "--out", "shipped/net.pt", "--run-files", "committed"])
    card = (tmp_path / "shipped" / "net.md").read_text()
    (before, after) = re.findall(r"- It replaced a file of validation G (\d+\.\d) with its own (\d+\.\d)", card)[0]
    assert float(after) > float(before)
    assert "python -m segbench.pretrained ship " + str(tmp_path / "run") + " --run-files committed`" in card
    assert "committed in `committed/` (its checkpoints are not)" in card
    assert f"{(tmp_path / 'shipped' / 'net.pt').stat().st_size:,} bytes." in card
    digest = hashlib.sha256(shipped.read_bytes()).hexdigest()[:12]
    (started,) = re.findall(
        r"- Fine-tuned: the run started from the weights of `(.*)` \(`init_from`; sha256 (\w+)…", card
    )
    assert started == (str(shipped), digest)
    # The card's command scores the file on the data the run trained on; run here, it gives the card's numbers.
    (command,) = re.findall(r"`(python src/eval.py ckpt_path=shipped/net.pt [^`]*)`", card)
    assert "dataset=synthetic" in command and "dataset.generator.height=48" in command
    scored = check(run("eval.py", tmp_path, *shlex.split(command)[2:], f"hydra.run.dir={tmp_path}/eval"))
    report = json.loads((tmp_path / "eval" / "eval.json").read_text())
    file_row, run_row = markdown_rows(card)[1:]
    assert file_row[0].startswith("this file, fp32")
    assert file_row[1:] == [f"{100 * report[f'test/{m}']:.1f}" for m in ("G", "C", "mIoU", "BF")]
    assert run_row[0] == "its training run's selected checkpoint, as trained (32-true)" and scored.returncode == 0
    stored = torch.load(tmp_path / "shipped" / "net.pt", map_location="cpu", weights_only=True)["state_dict"]
    assert {t.dtype for t in stored.values() if t.is_floating_point()} == {torch.bfloat16}
    # The same run again does not beat the file it would replace on validation G: refused, the file kept.
    shipped_bytes = (tmp_path / "shipped" / "net.pt").read_bytes()
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        pretrained_main(["ship", str(tmp_path / "run"), "--out", "shipped/net.pt"])
    refusal = capsys.readouterr().err.strip().splitlines()[-1]
    assert exited.value.code == 2
    assert re.fullmatch(r"error: not shipped: validation G (\d+\.\d) does not beat shipped/net.pt's \1 \(.*\)", refusal)
    assert (tmp_path / "shipped" / "net.pt").read_bytes() == shipped_bytes
