"""A qualitative panel like Fig. 4 of the SegNet paper: test images, their ground truth and each network's prediction.

Laid out as the paper's Fig. 4: columns are test images; rows are the input, its ground truth and one per run
(a grid of 16 runs reads down the page, not across it). A run's predictions are the
label maps the pipeline writes at the end of training, `<run>/predictions/<image stem>.png` (8-bit or
palette PNG, one class index per pixel, void = `segbench.data.camvid.VOID_INDEX`); the images and
ground truth come from a CamVid folder (`test/<stem>.png`, `testannot/<stem>.png`).
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from PIL import Image, UnidentifiedImageError

from segbench.data.camvid import CLASS_NAMES, COLOURS, VOID_INDEX
from segbench.errors import SegbenchError

# Inches chosen to be exact in binary, so the PNG is exactly LABEL + images x 240 px wide and
# HEADER + (2 + runs) x 180 + LEGEND px high at DPI: half of a 360x480 CamVid frame per tile.
TILE_INCHES = (3.0, 2.25)
LABEL_INCHES = 1.5  # the row titles' column
HEADER_INCHES = 0.375  # the image names
LEGEND_INCHES = 0.625
DPI = 80
GAP_INCHES = 1 / DPI  # a pixel of white around each tile, inside its cell: the size stays exact
PALETTE = np.array(COLOURS, dtype=np.uint8)


def prediction_stems(run_folder: Path) -> set[str]:
    return {path.stem for path in (run_folder / "predictions").glob("*.png")}


def choose_stems(stems: Sequence[str], count: int) -> list[str]:
    """`count` stems spread evenly over the sorted list: CamVid's names start with the sequence (day, dusk)."""
    ordered = sorted(stems)
    if count >= len(ordered):
        return ordered
    if count == 1:
        return ordered[:1]
    return [ordered[round(i * (len(ordered) - 1) / (count - 1))] for i in range(count)]


def _open(path: Path, what: str) -> Image.Image:
    if not path.is_file():
        raise SegbenchError(f"missing {what} {path}")
    try:
        image = Image.open(path)
        image.load()
    except (OSError, UnidentifiedImageError) as error:
        raise SegbenchError(f"{path} is not a readable image ({error})") from None
    return image


def read_label_map(path: Path, what: str, size: tuple[int, int] | None = None) -> np.ndarray:
    """Class indices of a label-map PNG, resized (nearest) to `size` (width, height) when given."""
    image = _open(path, what)
    if image.mode not in ("L", "P"):
        raise SegbenchError(f"{path} is not a label map (PNG mode {image.mode}; expected 8-bit or palette indices)")
    if size is not None and image.size != size:
        image = image.resize(size, Image.Resampling.NEAREST)
    labels = np.asarray(image)
    if labels.max(initial=0) > VOID_INDEX:
        raise SegbenchError(f"{path} holds class index {labels.max()}, above void ({VOID_INDEX})")
    return labels


def colourise(labels: np.ndarray) -> np.ndarray:
    """CamVid's colour code of each pixel's class, void black."""
    return PALETTE[labels]


def write_fig4(columns: Sequence[tuple[str, Path]], data_root: Path, out_path: Path, count: int) -> list[str]:
    """The panel of `count` test images predicted by every run in `columns` ((label, run folder), in order).

    Returns the image stems shown; raises SegbenchError when the runs share no predicted image.
    """
    for folder in (data_root / "test", data_root / "testannot"):
        if not folder.is_dir():
            raise SegbenchError(f"--data-root {data_root} has no {folder.name}/ folder (the CamVid layout)")
    common = set.intersection(*(prediction_stems(folder) for _, folder in columns))
    if not common:
        raise SegbenchError("the runs with predictions/ share no predicted test image: cannot draw Fig. 4's panel")
    stems = choose_stems(sorted(common), count)
    width, height = TILE_INCHES
    figure_height = HEADER_INCHES + (2 + len(columns)) * height + LEGEND_INCHES
    figure = Figure(figsize=(LABEL_INCHES + len(stems) * width, figure_height), dpi=DPI)
    _draw(figure, columns, data_root, stems)
    figure.savefig(out_path, dpi=DPI)
    return stems


def _draw(figure, columns: Sequence[tuple[str, Path]], data_root: Path, stems: list[str]) -> None:
    """Image names, one row of tiles per input / ground truth / run, and the class colour legend, placed in inches."""
    width, height = TILE_INCHES
    rows = 2 + len(columns)
    figure_width, figure_height = LABEL_INCHES + len(stems) * width, HEADER_INCHES + rows * height + LEGEND_INCHES
    gap_x, gap_y = GAP_INCHES / figure_width, GAP_INCHES / figure_height

    def place(row: int, col: int, tile: np.ndarray) -> None:
        left = (LABEL_INCHES + col * width) / figure_width
        bottom = (LEGEND_INCHES + (rows - 1 - row) * height) / figure_height
        axis = figure.add_axes(
            (left + gap_x, bottom + gap_y, width / figure_width - 2 * gap_x, height / figure_height - 2 * gap_y)
        )
        axis.imshow(tile, aspect="auto", interpolation="nearest")
        axis.set_axis_off()

    titles = ["Input", "Ground truth", *(label for label, _ in columns)]
    for row, title in enumerate(titles):
        middle = (LEGEND_INCHES + (rows - 0.5 - row) * height) / figure_height
        figure.text(
            0.5 * LABEL_INCHES / figure_width,
            middle,
            "\n".join(textwrap.wrap(title, 18, break_long_words=False)),  # a variant name breaks at its hyphens only
            ha="center",
            va="center",
            fontsize=8,
        )
    for col, stem in enumerate(stems):
        centre = (LABEL_INCHES + (col + 0.5) * width) / figure_width
        figure.text(centre, 1 - 0.5 * HEADER_INCHES / figure_height, stem, ha="center", va="center", fontsize=8)
        image = _open(data_root / "test" / f"{stem}.png", "test image").convert("RGB")
        truth = read_label_map(data_root / "testannot" / f"{stem}.png", "ground truth")
        size = (truth.shape[1], truth.shape[0])
        tiles = [np.asarray(image), colourise(truth)]
        tiles += [
            colourise(read_label_map(folder / "predictions" / f"{stem}.png", "prediction", size))
            for _, folder in columns
        ]
        for row, tile in enumerate(tiles):
            place(row, col, tile)
    handles = [Patch(color=np.array(colour) / 255, label=name) for name, colour in zip((*CLASS_NAMES, "Void"), COLOURS)]
    figure.legend(
        handles=handles,
        loc="center",
        bbox_to_anchor=(0.5, 0.5 * LEGEND_INCHES / figure_height),
        ncol=len(handles) if figure_width >= 12 else len(handles) // 2,
        fontsize=6,
        frameon=False,
    )
