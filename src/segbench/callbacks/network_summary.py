"""The model summary a run prints at its start: the network's modules and its real FLOPs for one input image at
the run's input size, without the metric collections a LightningModule also holds."""

from __future__ import annotations

import pytorch_lightning as pl
from pytorch_lightning.callbacks import RichModelSummary
from pytorch_lightning.utilities.model_summary import ModelSummary
from torch import nn
from torchmetrics import Metric


class _NetworkModules(ModelSummary):
    """Lightning's summary, its rows limited to the modules that compute (metrics are bookkeeping)."""

    @property
    def named_modules(self) -> list[tuple[str, nn.Module]]:
        def metric(module: nn.Module) -> bool:  # a Metric, or a collection or dict of nothing else
            return all(isinstance(m, (Metric, nn.ModuleDict)) for m in module.modules())

        return [(name, module) for name, module in super().named_modules if not metric(module)]


class NetworkSummary(RichModelSummary):
    """RichModelSummary of the network alone; FLOPs are counted on the task's `example_input_array` (one image at
    the run's input size, set by segbench.pipeline.build_task)."""

    def _summary(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> ModelSummary:
        return _NetworkModules(pl_module, max_depth=self._max_depth)
