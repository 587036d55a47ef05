"""The web demo (`make demo`, `python src/demo.py`): a local Gradio page that segments an image.

Upload an image or pick a bundled CamVid test image (a dusk one from 0001TP, a day one from Seq05VD),
choose the model — the shipped SegNet-Basic or any checkpoint under `logs/` — and see the input, the colour
overlay, a legend with each class's share of the image, the uncertainty map of Monte Carlo dropout (Bayesian
models, `MC samples` > 0) and the inference time. Predictions are `segbench.predict.predict_image`'s, the
same as predict.py writes for the same image.
"""

from __future__ import annotations

import html
import os
from importlib import resources
from pathlib import Path

import numpy as np

from segbench.data.camvid import CLASS_NAMES, COLOURS
from segbench.errors import SegbenchError
from segbench.extras import require
from segbench.precision import AUTO
from segbench.predict import colour_overlay, predict_image, uncertainty_image
from segbench.pretrained import Predictor, load_predictor

SHIPPED = "shipped SegNet-Basic (CamVid)"


def bundled_images() -> list[Path]:
    folder = Path(str(resources.files("segbench") / "demo_images"))
    return sorted(folder.glob("*.jpg"))


def find_models(logs: Path) -> dict[str, str | None]:
    """{label: checkpoint path} — the shipped weights, then every checkpoint under `logs` (newest first)."""
    checkpoints = sorted(logs.glob("**/checkpoints/*.ckpt"), key=lambda path: path.stat().st_mtime, reverse=True)
    return {SHIPPED: None, **{str(path.relative_to(logs)): str(path) for path in checkpoints}}


def legend_html(labels: np.ndarray, class_names: list[str]) -> str:
    """Each class present: its colour, its name and its share of the image's pixels, largest first."""
    counts = np.bincount(labels.ravel(), minlength=len(class_names))
    rows = []
    for index in np.argsort(-counts):
        if counts[index] == 0:
            continue
        red, green, blue = COLOURS[index]
        share = 100 * counts[index] / labels.size
        rows.append(
            f'<tr><td><span style="display:inline-block;width:1.2em;height:1.2em;'
            f'background:rgb({red},{green},{blue})"></span></td>'
            f"<td>{html.escape(class_names[index])}</td><td>{share:.1f}%</td></tr>"
        )
    return '<table id="legend-table">' + "".join(rows) + "</table>"


class Segmenter:
    """Loads each chosen model once and segments images with it."""

    def __init__(self, models: dict[str, str | None], precision: str = AUTO) -> None:
        self.models = models
        self.precision = precision  # "auto": each model runs in the fastest precision measured on this machine
        self.loaded: dict[str, Predictor] = {}

    def predictor(self, label: str) -> Predictor:
        if label not in self.loaded:
            predictor = load_predictor(self.models[label])
            predictor.compute_in(self.precision)
            self.loaded[label] = predictor
        return self.loaded[label]

    def __call__(self, image: np.ndarray | None, label: str, mc_samples: int):
        gr = require("gradio", "demo")

        if image is None:
            raise gr.Error("Upload an image or pick an example first.")
        try:
            predictor = self.predictor(label)
        except SegbenchError as error:
            raise gr.Error(str(error)) from None
        image = np.asarray(image, dtype=np.uint8)[..., :3]
        prediction = predict_image(predictor, image, mc_samples=int(mc_samples))
        names = predictor.class_names or list(CLASS_NAMES)
        uncertainty = None if prediction.uncertainty is None else uncertainty_image(prediction.uncertainty)
        timing = f"{prediction.milliseconds:.0f} ms on {image.shape[0]}x{image.shape[1]}" + (
            f" ({int(mc_samples)} samples)" if mc_samples else ""
        )
        return colour_overlay(image, prediction.labels), legend_html(prediction.labels, names), uncertainty, timing


def build_demo(models: dict[str, str | None], precision: str = AUTO):
    """The Gradio page; `models` as `find_models` gives them, each run in `precision`."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # a local demo reports nothing to anyone
    gr = require("gradio", "demo")

    segment = Segmenter(models, precision)
    with gr.Blocks(title="segbench: SegNet on CamVid") as demo:
        gr.Markdown("# segbench — SegNet-Basic on road scenes\nUpload an image or pick a CamVid test image.")
        with gr.Row():
            image = gr.Image(type="numpy", label="input", elem_id="input-image", sources=["upload"])
            overlay = gr.Image(type="numpy", format="png", label="prediction overlay", elem_id="overlay")
        with gr.Row():
            model = gr.Dropdown(list(models), value=SHIPPED, label="model", elem_id="model")
            samples = gr.Slider(0, 40, value=0, step=1, label="MC samples (Bayesian models; 0: one pass)")
            button = gr.Button("Segment", variant="primary", elem_id="segment")
        with gr.Row():
            legend = gr.HTML(label="classes", elem_id="legend")
            uncertainty = gr.Image(type="numpy", format="png", label="uncertainty (MC dropout)", elem_id="uncertainty")
            timing = gr.Textbox(label="inference time", elem_id="timing")
        gr.Examples([[str(path)] for path in bundled_images()], inputs=[image])
        button.click(segment, inputs=[image, model, samples], outputs=[overlay, legend, uncertainty, timing])
    return demo
