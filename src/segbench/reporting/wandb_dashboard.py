"""W&B dashboards as code: a saved workspace view and a W&B Report of one grid's runs, laid out like the decoder
study of the SegNet paper (Badrinarayanan et al., TPAMI 2017: Table 1 and the measures of Sec. 3.3).

python -m segbench.reporting.wandb_dashboard --group GROUP [--entity ENTITY] [--project PROJECT] [--dry-run]

GROUP is the runs' W&B group, `<task_name>/<sweep folder>` (conf/logger/wandb.yaml), e.g. `table1/<time>` for a
Table 1 sweep; PROJECT defaults to the project that file logs to. The dashboard is built from wandb-workspaces'
own `Workspace` and `Report` objects, so the library validates every panel, column and filter as it is built.
`--dry-run` prints that specification as JSON and touches no network; without it the workspace view and the
report are saved to the W&B server (a login is needed: `wandb login`, or WANDB_API_KEY).

`referenced_keys` walks the built objects for the metric, summary and config keys their panels read, and
`missing_keys` names those a run did not log, so a test can hold the panels to what runs really log.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

try:
    import wandb_workspaces.reports.v2 as wr
    import wandb_workspaces.workspaces as ws
    from wandb_workspaces import expr

    # The library's own converters from a panel's metric objects to the keys it saves, so that a key is read here
    # as the W&B app will read it (a bare string is a history key in a line plot but a summary key in a scatter).
    from wandb_workspaces.reports.v2.interface import (
        _metric_to_backend,
        _metric_to_backend_groupby,
        _metric_to_backend_pc,
    )
    from wandb_workspaces.workspaces.interface import _groupby_to_key
except ImportError as missing:  # an optional extra: say which, not a traceback
    raise SystemExit(
        f"error: the W&B dashboard needs wandb-workspaces ({missing.name} is missing): "
        "pip install 'segbench[dashboard]' (make install installs it)"
    ) from None

from segbench.errors import SegbenchError, first_line
from segbench.utils import exit_on_user_error

LOGGER_CONFIG = Path(__file__).resolve().parents[3] / "conf" / "logger" / "wandb.yaml"
ENTITY_PLACEHOLDER = "<entity>"  # a dry run's entity when none is given: it only names where a save would go

# What the runs log (segbench.task, segbench.pipeline, segbench.callbacks.wandb_panels).
MEASURES = ("G", "C", "mIoU", "BF")  # Sec. 3.3: global accuracy, class average accuracy, mean IoU, boundary F1
CHOICES = ("model", "balancing")  # Table 1's rows and its two column groups, the run config's `choices`
COSTS = ("stored_bytes", "infer_ms")  # Table 1's storage and inference-time columns, as each run measured them
STEP = "trainer/global_step"  # Lightning's step: the validation curves' x-axis in every run
CURVES = ("val/G", "val/mIoU")
CONFUSION_TABLE = "test/confusion_matrix_table"
CONFUSION_CHART = "wandb/confusion_matrix/v1"  # the spec `wandb.plot.confusion_matrix` draws with
CONFUSION_FIELDS = {"Actual": "actual", "Predicted": "predicted", "nPredictions": "count"}
PER_CLASS_TABLE = "test/per_class"
PREDICTIONS = "val/predictions"

SECTIONS = ("history", "summary", "config", "run")
# The run attributes a panel or runset may name (group, displayName, createdAt, ...): set by W&B, not logged.
RUN_ATTRIBUTES = frozenset(expr.FE_METRIC_NAME_MAP.values())


def choice(name: str) -> wr.Config:
    return wr.Config(f"choices.{name}")


def score(measure: str) -> wr.SummaryMetric:
    """A test score of the selected checkpoint, as the run summary holds it."""
    return wr.SummaryMetric(f"test/{measure}")


def cost(name: str) -> wr.SummaryMetric:
    return wr.SummaryMetric(f"cost/{name}")


def table1_columns() -> list[str]:
    """The runs table as Table 1: variant (model) and balancing, test G, C, mIoU, BF, then the cost columns (stored
    bytes, params); the run's name (`<model>/<balancing>`) comes first anyway."""
    metrics = [wr.Metric("Name"), *map(choice, CHOICES), *map(score, MEASURES), cost("stored_bytes"), cost("params")]
    return [_metric_to_backend_pc(metric) for metric in metrics]


def group_filter(group: str) -> expr.And:
    return expr.And(expr.Metric("Group") == group)


# ---------------------------------------------------------------------------------------------------------------
# The panels, section by section
# ---------------------------------------------------------------------------------------------------------------
def table1_panels() -> list[Any]:
    """Table 1 at a glance: every run as a line from its decoder variant and balancing to its test scores (Sec. 3.3's
    G, C, mIoU, BF), and the runs side by side."""
    columns = [wr.ParallelCoordinatesPlotColumn(metric=choice(name), display_name=name) for name in CHOICES]
    columns += [wr.ParallelCoordinatesPlotColumn(metric=score(m), display_name=f"test {m}") for m in MEASURES]
    return [
        wr.ParallelCoordinatesPlot(
            title="Table 1: decoder variant and balancing to test G, C, mIoU, BF",
            columns=columns,
            layout=wr.Layout(w=24, h=8),
        ),
        wr.RunComparer(diff_only="split", layout=wr.Layout(w=24, h=10)),
    ]


def tradeoff_panels() -> list[Any]:
    """Sec. 3.3's trade-off: test mIoU and BF against what a decoder variant stores at inference and against its
    inference time (Table 1's storage multiplier and time columns, measured per run)."""
    names = {"stored_bytes": "stored bytes (first encoder level)", "infer_ms": "inference time (ms)"}
    return [
        wr.ScatterPlot(
            title=f"test {measure} against {names[name]}",
            x=cost(name),
            y=score(measure),
            layout=wr.Layout(w=12, h=8),
        )
        for name in COSTS
        for measure in ("mIoU", "BF")
    ]


def curve_panels() -> list[Any]:
    """Validation G and mIoU while training (the scores checkpoints are selected on, Sec. 3.3), one line per decoder
    variant: the mean over its balancings, their range shaded."""
    return [
        wr.LinePlot(
            title=f"{key} by decoder variant",
            x=STEP,
            y=[key],
            groupby=choice("model"),
            groupby_aggfunc="mean",
            groupby_rangefunc="minmax",
            layout=wr.Layout(w=12, h=8),
        )
        for key in CURVES
    ]


def confusion_panels() -> list[Any]:
    """The selected checkpoint's test confusion matrix (pixels counted by true and predicted class) and its per-class
    accuracy and IoU (Table 2's per-class layout), as each run logged them."""
    return [
        wr.CustomChart(
            query={"summaryTable": {"tableKey": CONFUSION_TABLE}},
            chart_name=CONFUSION_CHART,
            chart_fields=dict(CONFUSION_FIELDS),
            chart_strings={"title": "test confusion (pixels)"},
            layout=wr.Layout(w=12, h=12),
        ),
        wr.WeavePanelSummaryTable(table_name=PER_CLASS_TABLE, layout=wr.Layout(w=12, h=12)),
    ]


def prediction_panels() -> list[Any]:
    """The same validation images after every evaluation, prediction and ground truth as masks: the training-time
    counterpart of Fig. 4's qualitative comparison."""
    return [
        wr.MediaBrowser(
            title="validation predictions",
            media_keys=[PREDICTIONS],
            grid_x_axis="step",
            grid_y_axis="run",
            layout=wr.Layout(w=24, h=12),
        )
    ]


SECTION_PANELS = (
    ("Table 1: decoder variants", table1_panels),
    ("Sec. 3.3: accuracy against storage and time", tradeoff_panels),
    ("Validation curves", curve_panels),
    ("Test: confusion matrix and per-class scores", confusion_panels),
    ("Predictions", prediction_panels),
)


# ---------------------------------------------------------------------------------------------------------------
# The workspace and the report
# ---------------------------------------------------------------------------------------------------------------
def build_workspace(group: str, entity: str, project: str) -> ws.Workspace:
    """A saved workspace view of the grid's runs: its runs table with Table 1's columns, best test mIoU first, and
    one section per part of the study."""
    return ws.Workspace(
        entity=entity,
        project=project,
        name=f"SegNet decoder study: {group}",
        sections=[ws.Section(name=name, panels=panels(), is_open=True) for name, panels in SECTION_PANELS],
        runset_settings=ws.RunsetSettings(
            filters=group_filter(group),
            order=[expr.Ordering(expr.Summary(score("mIoU").name), ascending=False)],
            pinned_columns=table1_columns(),
        ),
    )


def build_report(group: str, entity: str, project: str) -> wr.Report:
    """The same panels as a report that reads top to bottom like the paper's Sec. 3.3: Table 1, the trade-off, the
    training curves, the test panels and the predictions, each panel grid over the grid's runs."""

    def runset() -> wr.Runset:
        # One per panel grid (a report's grids do not share run sets); the table shows Table 1's columns only.
        return wr.Runset(
            entity=entity,
            project=project,
            name=group,
            filters=group_filter(group),
            order=[wr.OrderBy(score("mIoU"), ascending=False)],
            pinned_columns=table1_columns(),
            lock_columns=True,
        )

    blocks: list[Any] = [
        wr.P(
            f"The runs of W&B group {group}: SegNet's decoder variants trained with median frequency and natural "
            "frequency balancing, as in Table 1 of Badrinarayanan et al., SegNet (TPAMI 2017). Test scores are "
            "those of each run's checkpoint with the best validation G; the measures are Sec. 3.3's."
        )
    ]
    for name, panels in SECTION_PANELS:
        blocks += [wr.H2(name), wr.PanelGrid(runsets=[runset()], panels=panels())]
    return wr.Report(
        entity=entity,
        project=project,
        title=f"SegNet decoder study: {group}",
        description="Table 1 and Sec. 3.3 of the SegNet paper, from this grid's runs (segbench).",
        blocks=blocks,
        width="fluid",
    )


def check_group(group: str) -> None:
    if not group.strip():
        raise SegbenchError("no W&B group given: pass the runs' group, <task_name>/<sweep folder> (e.g. table1/<time>)")


def build(group: str, entity: str, project: str) -> tuple[ws.Workspace, wr.Report]:
    """Both objects, checked as the library would save them; a bad group, entity or title is a one-line error."""
    check_group(group)
    try:
        workspace, report = build_workspace(group, entity, project), build_report(group, entity, project)
        # The wire models the app would receive: the workspace whole, the report's panels (its run sets look their
        # project up on the server, so they are checked when saved).
        workspace._to_model()
        for panel in _report_panels(report):
            panel._to_model()
    except (ValidationError, ValueError) as error:
        raise SegbenchError(f"the dashboard for group {group!r} is not valid: {_one_line(error)}") from error
    return workspace, report


def _one_line(error: Exception) -> str:
    # pydantic's first line only counts the errors; the first error's field and message say what is wrong
    if isinstance(error, ValidationError) and error.errors():
        first = error.errors()[0]
        return f"{'.'.join(map(str, first['loc']))}: {first['msg']}"
    return first_line(error)


# ---------------------------------------------------------------------------------------------------------------
# The keys the panels read
# ---------------------------------------------------------------------------------------------------------------
def referenced_keys(*dashboards: ws.Workspace | wr.Report) -> dict[str, set[str]]:
    """The keys the dashboards' panels, run sets and runs tables read, by where a run keeps them: `history` (logged
    at steps), `summary`, `config` (dotted paths into the run config, e.g. `choices.model`) and `run` (attributes
    W&B sets, such as `group`). Read from the built objects, so that nothing a panel reads goes unchecked."""
    found: dict[str, set[str]] = {section: set() for section in SECTIONS}
    for dashboard in dashboards:
        if isinstance(dashboard, ws.Workspace):
            panels = [panel for section in dashboard.sections for panel in section.panels]
            settings = dashboard.runset_settings
            references = [
                *_filter_keys(settings.filters),
                *(_accessor_key(column) for column in settings.pinned_columns),
                *(_section_key(key.section, key.name) for key in map(_groupby_to_key, settings.groupby)),
                *(_section_key(key.section, key.name) for key in (order.item.to_key() for order in settings.order)),
            ]
        elif isinstance(dashboard, wr.Report):
            panels = _report_panels(dashboard)
            references = [reference for runset in _report_runsets(dashboard) for reference in _runset_keys(runset)]
        else:
            raise TypeError(f"not a workspace or report: {type(dashboard).__name__}")
        for section, name in [*references, *(key for panel in panels for key in _panel_keys(panel))]:
            found[section].add(name)
    return found


def config_paths(config: Mapping[str, Any], prefix: str = "") -> set[str]:
    """Every dotted path into a nested run config, inner nodes too: {"choices": {"model": ...}} gives
    {"choices", "choices.model"}."""
    paths = set()
    for key, value in config.items():
        path = f"{prefix}{key}"
        paths.add(path)
        if isinstance(value, Mapping):
            paths |= config_paths(value, f"{path}.")
    return paths


def logged_keys(
    history: Iterable[Mapping[str, Any]], summary: Mapping[str, Any], config: Mapping[str, Any]
) -> dict[str, set[str]]:
    """What one run logged, by section, from its history rows, its summary and its (nested) config."""
    return {
        "history": {key for row in history for key in row},
        "summary": set(summary),
        "config": config_paths(config),
        "run": set(RUN_ATTRIBUTES),
    }


def missing_keys(referenced: Mapping[str, set[str]], logged: Mapping[str, set[str]]) -> list[str]:
    """`<section>:<key>` for each referenced key the run did not log (a renamed metric shows up here)."""
    return [
        f"{section}:{name}"
        for section in SECTIONS
        for name in sorted(referenced.get(section, ()))
        if name not in logged.get(section, ())
    ]


def _report_grids(report: wr.Report) -> Iterator[wr.PanelGrid]:
    def walk(blocks):
        for block in blocks or ():
            if isinstance(block, wr.PanelGrid):
                yield block
            yield from walk(getattr(block, "collapsed_blocks", None))

    yield from walk(report.blocks)


def _report_panels(report: wr.Report) -> list[Any]:
    return [panel for grid in _report_grids(report) for panel in grid.panels]


def _report_runsets(report: wr.Report) -> list[wr.Runset]:
    return [runset for grid in _report_grids(report) for runset in grid.runsets]


def _panel_keys(panel: Any) -> Iterator[tuple[str, str]]:
    if isinstance(panel, wr.LinePlot):
        for metric in [panel.x, *panel.y]:
            if metric is not None:
                yield _line_key(_metric_to_backend(metric))
        if panel.groupby not in (None, "None"):
            yield _groupby_key(_metric_to_backend_groupby(panel.groupby))
    elif isinstance(panel, wr.ScatterPlot):
        for metric in (panel.x, panel.y, panel.z):
            if metric is not None:
                yield _accessor_key(_metric_to_backend_pc(metric))
    elif isinstance(panel, wr.ParallelCoordinatesPlot):
        for column in panel.columns:
            yield _accessor_key(_metric_to_backend_pc(column.metric))
    elif isinstance(panel, wr.MediaBrowser):
        for key in panel.media_keys:
            yield "history", key
    elif isinstance(panel, wr.CustomChart):
        table = panel.query.get("summaryTable", {}).get("tableKey")
        if table is None:
            raise TypeError(f"a custom chart reads no summary table here: {panel.query}")
        yield "summary", table
    elif isinstance(panel, wr.WeavePanelSummaryTable):
        yield "summary", panel.table_name
    elif not isinstance(panel, (wr.RunComparer, wr.MarkdownPanel)):
        # A panel type the walk does not know could read keys nobody checks.
        raise TypeError(f"referenced_keys does not know what a {type(panel).__name__} reads")


def _runset_keys(runset: wr.Runset) -> Iterator[tuple[str, str]]:
    yield from _filter_keys(runset.filters)
    for column in [*runset.pinned_columns, *runset.visible_columns, *runset.column_order]:
        yield _accessor_key(column)
    for group in runset.groupby:
        key = expr.groupby_str_to_key(group)
        yield _section_key(key.section, key.name)
    for order in runset.order:
        key = order._to_model().key
        yield _section_key(key.section, key.name)


def _filter_keys(filters: str) -> Iterator[tuple[str, str]]:
    def walk(node: expr.Filters):
        if node.key is not None:
            yield _section_key(node.key.section, node.key.name)
        for child in node.filters or ():
            yield from walk(child)

    if filters:
        yield from walk(expr.expr_to_filters(filters))


def _section_key(section: str, name: str) -> tuple[str, str]:
    """A backend key (`run`/`summary`/`config` section, config paths with their `value` level) as (section, key)."""
    if section == "config":
        return "config", _config_path(name)
    if section in ("summary", "run"):
        return section, name
    raise ValueError(f"a key in an unexpected section: {section}:{name}")


def _config_path(name: str) -> str:
    # W&B keeps each top-level config key as {"value": ...}: `choices.value.model` is the run config's choices.model
    parts = name.split(".")
    if "value" in parts:
        parts.remove("value")
    return ".".join(parts)


def _accessor_key(accessor: str) -> tuple[str, str]:
    """A runs-table column or scatter/parallel-coordinates axis (`summary:test/G`, `config:choices.value.model`)."""
    section, _, name = accessor.partition(":")
    if section == "tags":
        return "run", "tags"
    return _section_key(section, name)


def _line_key(name: str) -> tuple[str, str]:
    """A line plot's x or y: a history key, unless it is a run attribute (`_step`), config or summary."""
    if name.startswith("config."):
        return "config", _config_path(name.removeprefix("config."))
    if name.startswith("summary_metrics."):
        return "summary", name.removeprefix("summary_metrics.")
    if name in RUN_ATTRIBUTES:
        return "run", name
    return "history", name


def _groupby_key(name: str) -> tuple[str, str]:
    """A line plot's group-by key: a config path with its `value` level, or a run attribute."""
    return ("config", _config_path(name)) if "value" in name.split(".") else ("run", name)


# ---------------------------------------------------------------------------------------------------------------
# The specification, and saving
# ---------------------------------------------------------------------------------------------------------------
def specification(workspace: ws.Workspace, report: wr.Report) -> dict[str, Any]:
    """Both objects as JSON-ready dicts, each object with its wandb-workspaces type; ids and empty fields left out,
    so the same group prints the same text. Also the keys the panels read."""
    references = referenced_keys(workspace, report)
    return {
        "workspace": _spec(workspace),
        "report": _spec(report),
        "referenced_keys": {section: sorted(names) for section, names in references.items()},
    }


def _spec(value: Any) -> Any:
    if isinstance(value, expr.BaseMetric):
        return {"type": type(value).__name__, "name": value.name}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {field.name: getattr(value, field.name) for field in dataclasses.fields(value)}
        shown = {name: _spec(item) for name, item in fields.items() if not name.startswith("_") and not _empty(item)}
        return {"type": type(value).__name__, **shown}
    if isinstance(value, Mapping):
        return {str(key): _spec(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_spec(item) for item in value]
    return value


def _empty(value: Any) -> bool:
    # isinstance first: a metric's == builds a filter expression instead of comparing
    if value is None:
        return True
    if isinstance(value, (str, list, dict)):
        return not value
    return isinstance(value, tuple) and all(item is None for item in value)


def save(workspace: ws.Workspace, report: wr.Report) -> tuple[str, str]:
    """Save the workspace view and the report to the W&B server; their URLs."""
    import wandb

    try:
        workspace.save()
        report.save()
        return workspace.url, report.url
    except (wandb.errors.Error, OSError, ValueError, KeyError) as error:
        raise SegbenchError(f"could not save the dashboard to W&B: {first_line(error)}") from error


def require_login() -> None:
    """A one-line error, before any request, when W&B is switched off or has no credentials for its server."""
    mode = os.environ.get("WANDB_MODE", "").lower()
    if mode in ("offline", "disabled", "dryrun"):
        raise SegbenchError(
            f"WANDB_MODE={mode}: saving a dashboard needs the W&B server; unset WANDB_MODE, or use --dry-run"
        )
    from wandb.sdk import wandb_setup
    from wandb.sdk.lib import wbauth

    base_url = wandb_setup.singleton().settings.base_url
    try:
        auth = wbauth.authenticate_session(host=base_url, source="wandb_dashboard", prompt=False, update_session=False)
    except Exception as error:  # a malformed key or netrc entry
        raise SegbenchError(f"no usable W&B login for {base_url}: {first_line(error)}") from error
    if auth is None:
        raise SegbenchError(
            f"no W&B login for {base_url}: run `wandb login` (or set WANDB_API_KEY) first, or use --dry-run"
        )


def default_entity() -> str:
    import wandb

    try:
        entity = wandb.Api().default_entity
    except Exception as error:
        raise SegbenchError(f"could not ask W&B for your default entity: {first_line(error)}; pass --entity") from error
    if not entity:
        raise SegbenchError("W&B names no default entity for this login: pass --entity")
    return entity


def default_project() -> str:
    """The project the runs log to (conf/logger/wandb.yaml), so the dashboard looks where the runs are."""
    return yaml.safe_load(LOGGER_CONFIG.read_text())["wandb"]["project"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--group", required=True, help="the runs' W&B group, <task_name>/<sweep folder>")
    parser.add_argument("--entity", help="W&B entity (default: WANDB_ENTITY, else your default entity)")
    parser.add_argument("--project", help="W&B project (default: the one conf/logger/wandb.yaml logs to)")
    parser.add_argument("--dry-run", action="store_true", help="print the specification as JSON; no network")
    return parser.parse_args(argv)


@exit_on_user_error
def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    check_group(args.group)
    project = args.project or default_project()
    entity = args.entity or os.environ.get("WANDB_ENTITY")
    if args.dry_run:
        workspace, report = build(args.group, entity or ENTITY_PLACEHOLDER, project)
        json.dump(specification(workspace, report), sys.stdout, indent=2)
        print()
        return
    require_login()
    workspace, report = build(args.group, entity or default_entity(), project)
    for kind, url in zip(("workspace", "report"), save(workspace, report)):
        print(f"{kind}: {url}")


if __name__ == "__main__":
    main()
