"""fc6 of the Table 3 networks: the library's convolution against the same layer as im2col + one matrix product
(`segbench.models.fully_connected.FullyConnectedConv`, what the networks use on a CPU) — `make bench-fc6`.

    python -m segbench.benchmarks.fc6 --json docs/results/fc6.json --out docs/results/fc6.md

One training step of the layer alone (forward, backward to its input and weight) and one inference pass (forward
without gradients) at the input size of the CPU Table 3 grid (120x160, batch 5) and of the paper (360x480, batch 1),
each way, in this process's threads; with the ratio of the two measured in the same run. Beyond the paper: it is why
FCN trains at a CPU scale at all.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
from pathlib import Path

import pandas as pd
import torch
from rich.progress import Progress
from torch import nn

from segbench.benchmarks.timing import time_calls
from segbench.models.fully_connected import FullyConnectedConv
from segbench.record import provenance

# (network, fc6's width, kernel size, dilation, pool5's stride): Sec. 4's fc6 of each network with one
FC6 = (
    ("FCN", 4096, 7, 1, 32),
    ("DeconvNet", 1024, 7, 1, 32),
    ("DeepLab-LargeFOV", 1024, 3, 12, 8),
)
SIZES = (("CPU grid", 5, 120, 160), ("paper", 1, 360, 480))


PASSES = ("training step", "inference")


def _step(layer: nn.Conv2d, forward, x: torch.Tensor, what: str):
    def training_step() -> None:
        layer.zero_grad(set_to_none=True)
        x.grad = None
        forward(x).sum().backward()

    def inference() -> None:
        with torch.no_grad():
            forward(x)

    return training_step if what == "training step" else inference


def measure(runs: int) -> list[dict]:
    lines = []
    origin = provenance.collect(device="cpu").model_dump()
    with Progress(transient=True) as progress:
        for network, width, kernel, dilation, stride in FC6:
            for (scale, batch, height, width_px), what in itertools.product(SIZES, PASSES):
                x = torch.randn(batch, 512, -(-height // stride), -(-width_px // stride), requires_grad=True)
                layer = FullyConnectedConv(512, width, kernel, padding=dilation * (kernel // 2), dilation=dilation)
                times = {}
                library_conv = functools.partial(nn.Conv2d.forward, layer)
                # an inference pass costs a fraction of a step (and its times spread wider): ten times the calls
                calls = runs if what == "training step" else 10 * runs
                for way, forward in (("library_conv", library_conv), ("gemm", layer.as_matrix_product)):
                    label = f"{network} fc6, {scale}, {what}, {way}"
                    timing = time_calls(_step(layer, forward, x, what), calls, progress=progress, label=label)
                    times[way] = timing.median_ms if timing else None
                lines.append(
                    {
                        "network": network,
                        "scale": scale,
                        "pass": what,
                        "fc6": f"{512}->{width} {kernel}x{kernel}" + (f" rate {dilation}" if dilation > 1 else ""),
                        "input": [batch, 512, *x.shape[2:]],
                        "library_conv_ms": times["library_conv"],
                        "gemm_ms": times["gemm"],
                        "threads": torch.get_num_threads(),
                        "runs": runs,
                        "provenance": origin,
                    }
                )
    return lines


def write_report(lines: list[dict], source: Path, out: Path, command: str) -> None:
    table = pd.DataFrame(
        {
            "network": [line["network"] for line in lines],
            "fc6": [line["fc6"] for line in lines],
            "pass": [line["pass"] for line in lines],
            "size": [
                f"{line['scale']}: {line['input'][0]} x {line['input'][2]}x{line['input'][3]} maps" for line in lines
            ],
            "library conv ms": [line["library_conv_ms"] for line in lines],
            "im2col + GEMM ms": [line["gemm_ms"] for line in lines],
        }
    )
    table["library ÷ GEMM"] = table["library conv ms"] / table["im2col + GEMM ms"]
    text = f"""# fc6: the library's convolution or one matrix product

Written by `{command}` (do not edit by hand) from `{source.name}` beside this file.
{provenance.lines_measured_on(lines, source)} Threads: {lines[0]["threads"]}.

One training step (forward, backward to input and weight) and one inference pass (forward without gradients) of each
Table 3 network's fc6 alone, on the maps pool5 gives it at the CPU grid's input size and at the paper's; median of
the timed calls (about {lines[0]["runs"]} steps, {10 * lines[0]["runs"]} inference passes). The networks run an
undilated fc6 as im2col + GEMM on a CPU, training or not (`FullyConnectedConv`; DeepLab-LargeFOV's dilated one keeps
the library's convolution): the same numbers (a test checks outputs and gradients), not the same time where the
library's kernels are slow for wide kernels on small maps.

{table.to_markdown(index=False, floatfmt=",.1f")}
"""
    out.write_text(text)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, required=True, help="the measurements, one JSON object a line")
    parser.add_argument("--out", type=Path, required=True, help="the markdown report")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--command", default="make bench-fc6")
    args = parser.parse_args(argv)
    lines = measure(args.runs)
    args.json.write_text("".join(json.dumps(line) + "\n" for line in lines))
    write_report(lines, args.json, args.out, args.command)
    print(args.out)


if __name__ == "__main__":
    main()
