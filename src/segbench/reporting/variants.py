"""Which networks a report shows, in what order, and under which name: decided by the study's own runs and configs,
with the SegNet paper (Badrinarayanan et al., TPAMI 2017; `segbench.paper`) only as the reference they are compared
with.

A report's rows are the variants its inputs hold: a run's variant by its record's `paper_name` (its model config's
`meta.paper_name`), a benchmark line's by its model config's. Rows take the paper's order for the networks it has
(Table 1's rows, then Table 3's), then the others sorted by their `model=` option, so that a grid reads the same
whatever order its jobs finished in.
"""

from __future__ import annotations

from collections.abc import Iterable

from segbench.paper import paper_order

# A cell of the paper's columns for a network the paper does not have.
NOT_IN_PAPER = "—"


def variant_order(paper_name: str | None, model: str) -> tuple[int, int, int, str]:
    """The sort key of a row: the paper's networks in its order, then the others by their `model=` option."""
    position = paper_order(paper_name)
    return (0, *position, "") if position is not None else (1, 0, 0, model)


def configured_paper_names(models: Iterable[str]) -> dict[str, str | None]:
    """The paper's name of each `model=` option as its config gives it (`meta.paper_name`), for inputs that name only
    the option (benchmark lines); None for a network the paper lacks, or an option this checkout has no config for."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException

    from segbench.models.config import model_meta
    from segbench.utils.config import CONF_DIR

    names: dict[str, str | None] = {}
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR)):
        for model in dict.fromkeys(models):
            try:
                names[model] = model_meta(compose("train", overrides=[f"model={model}"]).model).paper_name
            except HydraException:
                names[model] = None
    return names
