"""Numbers copied from the SegNet paper (Badrinarayanan et al., TPAMI 2017).

The single home of the paper's reference values: the metric, tests and reports read them from here.
Facts about the CamVid data set itself (classes, colours, split sizes) live in `segbench.data.camvid`.
"""

from __future__ import annotations

# Table 1's two column groups, in its order, named as our `balancing=` options.
BALANCINGS = ("median_frequency", "natural")

# Table 1: Params (M), storage multiplier, inference time (ms, Titan GPU, 360x480, batch 1) and, for each
# balancing, test G, C, mIoU, BF and train G, C, mIoU in percent. Keyed by our `model=` names, in Table 1's order.
# `test` and `train` alone are the median-frequency scores (added below), the ones Sec. 3.3 analyses.
TABLE1 = {
    "bilinear_interpolation": dict(
        paper_name="Bilinear-Interpolation",
        params_m=0.625,
        storage_multiplier=0,
        infer_ms=24.2,
        median_frequency=dict(test=dict(G=77.9, C=61.1, mIoU=43.3, BF=20.83), train=dict(G=89.1, C=90.2, mIoU=82.7)),
        natural=dict(test=dict(G=82.7, C=52.5, mIoU=43.8, BF=23.08), train=dict(G=93.5, C=74.1, mIoU=59.9)),
    ),
    "segnet_basic": dict(
        paper_name="SegNet-Basic",
        params_m=1.425,
        storage_multiplier=1,
        infer_ms=52.6,
        median_frequency=dict(test=dict(G=82.7, C=62.0, mIoU=47.7, BF=35.78), train=dict(G=94.7, C=96.2, mIoU=92.7)),
        natural=dict(test=dict(G=84.0, C=54.6, mIoU=46.3, BF=36.67), train=dict(G=96.1, C=83.9, mIoU=73.3)),
    ),
    "segnet_basic_encoder_addition": dict(
        paper_name="SegNet-Basic-EncoderAddition",
        params_m=1.425,
        storage_multiplier=64,
        infer_ms=53.0,
        median_frequency=dict(test=dict(G=83.4, C=63.6, mIoU=48.5, BF=35.92), train=dict(G=94.3, C=95.8, mIoU=92.0)),
        natural=dict(test=dict(G=84.2, C=56.5, mIoU=47.7, BF=36.27), train=dict(G=95.3, C=80.9, mIoU=68.9)),
    ),
    "segnet_basic_single_channel_decoder": dict(
        paper_name="SegNet-Basic-SingleChannelDecoder",
        params_m=0.625,
        storage_multiplier=1,
        infer_ms=33.1,
        median_frequency=dict(test=dict(G=81.2, C=60.7, mIoU=46.1, BF=31.62), train=dict(G=93.2, C=94.8, mIoU=90.3)),
        natural=dict(test=dict(G=83.5, C=53.9, mIoU=45.2, BF=32.45), train=dict(G=92.6, C=68.4, mIoU=52.8)),
    ),
    "fcn_basic": dict(
        paper_name="FCN-Basic",
        params_m=0.65,
        storage_multiplier=11,
        infer_ms=24.2,
        median_frequency=dict(test=dict(G=81.7, C=62.4, mIoU=47.3, BF=38.11), train=dict(G=92.8, C=93.6, mIoU=88.1)),
        natural=dict(test=dict(G=83.9, C=55.6, mIoU=45.0, BF=37.33), train=dict(G=92.0, C=66.8, mIoU=50.7)),
    ),
    "fcn_basic_no_addition": dict(
        paper_name="FCN-Basic-NoAddition",
        params_m=0.65,
        storage_multiplier=None,  # "n/a" in Table 1
        infer_ms=23.8,
        median_frequency=dict(test=dict(G=80.5, C=58.6, mIoU=44.1, BF=31.96), train=dict(G=92.5, C=93.0, mIoU=87.2)),
        natural=dict(test=dict(G=82.3, C=53.9, mIoU=44.2, BF=29.43), train=dict(G=93.1, C=72.8, mIoU=57.6)),
    ),
    "fcn_basic_no_dim_reduction": dict(
        paper_name="FCN-Basic-NoDimReduction",
        params_m=1.625,
        storage_multiplier=64,
        infer_ms=44.8,
        median_frequency=dict(test=dict(G=84.1, C=63.4, mIoU=50.1, BF=37.37), train=dict(G=95.1, C=96.5, mIoU=93.2)),
        natural=dict(test=dict(G=83.5, C=57.3, mIoU=47.0, BF=37.13), train=dict(G=97.2, C=91.7, mIoU=84.8)),
    ),
    "fcn_basic_no_addition_no_dim_reduction": dict(
        paper_name="FCN-Basic-NoAddition-NoDimReduction",
        params_m=1.625,
        storage_multiplier=0,
        infer_ms=43.9,
        median_frequency=dict(test=dict(G=80.5, C=61.6, mIoU=45.9, BF=30.47), train=dict(G=92.5, C=94.6, mIoU=89.9)),
        natural=dict(test=dict(G=83.7, C=54.8, mIoU=45.5, BF=33.17), train=dict(G=95.0, C=80.2, mIoU=67.8)),
    ),
}  # fmt: skip
for _variant in TABLE1.values():
    # Readers older than the natural-frequency columns take a variant's test/train as Table 1's headline numbers.
    _variant.update(_variant["median_frequency"])
del _variant

# Section 3.3: BF tolerance as a fraction of the image diagonal.
BF_TOLERANCE = 0.0075

# Table 3: CamVid test G, C, mIoU, BF (percent) of the deep networks trained without class balancing, at
# 40 K and 80 K iterations (`at`) and at the last test point after 80 K (`beyond_80k`, "> 80 K"), which is
# no later than `max_iter` ("Max iter": no improvement after it, or over-fitting). DeepLab-LargeFOV-denseCRF
# was "not computed" at 40 K and 80 K. Keyed by our `model=` names, in Table 3's order.
TABLE3 = {
    "table3/segnet": dict(
        paper_name="SegNet",
        at={40_000: dict(G=88.81, C=59.93, mIoU=50.02, BF=35.78), 80_000: dict(G=89.68, C=69.82, mIoU=57.18, BF=42.08)},
        beyond_80k=dict(G=90.40, C=71.20, mIoU=60.10, BF=46.84),
        max_iter=140_000,
    ),
    "table3/deeplab_largefov": dict(
        paper_name="DeepLab-LargeFOV",
        at={40_000: dict(G=85.95, C=60.41, mIoU=50.18, BF=26.25), 80_000: dict(G=87.76, C=62.57, mIoU=53.34, BF=32.04)},
        beyond_80k=dict(G=88.20, C=62.53, mIoU=53.88, BF=32.77),
        max_iter=140_000,
    ),
    "table3/deeplab_largefov_densecrf": dict(
        paper_name="DeepLab-LargeFOV-denseCRF",
        at={},
        beyond_80k=dict(G=89.71, C=60.67, mIoU=54.74, BF=40.79),
        max_iter=140_000,
    ),
    "table3/fcn": dict(
        paper_name="FCN",
        at={40_000: dict(G=81.97, C=54.38, mIoU=46.59, BF=22.86), 80_000: dict(G=82.71, C=56.22, mIoU=47.95, BF=24.76)},
        beyond_80k=dict(G=83.27, C=59.56, mIoU=49.83, BF=27.99),
        max_iter=200_000,
    ),
    "table3/fcn_learnt_deconv": dict(
        paper_name="FCN (learnt deconv)",
        at={40_000: dict(G=83.21, C=56.05, mIoU=48.68, BF=27.40), 80_000: dict(G=83.71, C=59.64, mIoU=50.80, BF=31.01)},
        beyond_80k=dict(G=83.14, C=64.21, mIoU=51.96, BF=33.18),
        max_iter=160_000,
    ),
    "table3/deconvnet": dict(
        paper_name="DeconvNet",
        at={40_000: dict(G=85.26, C=46.40, mIoU=39.69, BF=27.36), 80_000: dict(G=85.19, C=54.08, mIoU=43.74, BF=29.33)},
        beyond_80k=dict(G=89.58, C=70.24, mIoU=59.77, BF=52.23),
        max_iter=260_000,
    ),
}  # fmt: skip

# Table 6: forward / backward ms (caffe time, batch 1, 360x480, Titan GPU), GPU training memory (MB, batch 4),
# GPU inference memory (MB, batch 1), Caffe model size (MB). Keyed by our `model=` names.
TABLE6 = {
    "table3/segnet": dict(paper_name="SegNet", forward_ms=422.50, backward_ms=488.71, training_mb=6803,
                          inference_mb=1052, model_mb=117),
    "table3/deeplab_largefov": dict(paper_name="DeepLab-LargeFOV", forward_ms=110.06, backward_ms=160.73,
                                    training_mb=5618, inference_mb=1993, model_mb=83),
    "table3/fcn_learnt_deconv": dict(paper_name="FCN (learnt deconv)", forward_ms=317.09, backward_ms=484.11,
                                     training_mb=9735, inference_mb=1806, model_mb=539),
    "table3/deconvnet": dict(paper_name="DeconvNet", forward_ms=474.65, backward_ms=602.15, training_mb=9731,
                             inference_mb=1872, model_mb=877),
}  # fmt: skip


# Lookups by the paper's own name of a network (a model config's meta.paper_name, a run record's paper_name): the
# reports find a run's reference row through them, so that a variant the paper lacks simply has none. Which rows a
# report shows is decided by its runs, never by these tables.
def _by_paper_name(table: dict[str, dict]) -> dict[str, dict]:
    return {entry["paper_name"]: entry for entry in table.values()}


_TABLE1_BY_NAME, _TABLE3_BY_NAME, _TABLE6_BY_NAME = map(_by_paper_name, (TABLE1, TABLE3, TABLE6))


def table1_row(paper_name: str | None) -> dict | None:
    """Table 1's row of the variant the paper calls `paper_name` (None: Table 1 has no such variant)."""
    return _TABLE1_BY_NAME.get(paper_name) if paper_name else None


def table3_row(paper_name: str | None) -> dict | None:
    """Table 3's row of the network the paper calls `paper_name` (None: Table 3 has no such network)."""
    return _TABLE3_BY_NAME.get(paper_name) if paper_name else None


def table6_row(paper_name: str | None) -> dict | None:
    """Table 6's row of the network the paper calls `paper_name` (None: Table 6 did not measure it)."""
    return _TABLE6_BY_NAME.get(paper_name) if paper_name else None


def paper_order(paper_name: str | None) -> tuple[int, int] | None:
    """Where the paper lists the network: (1, its row) in Table 1 or (3, its row) in Table 3, rows counted from 0
    (None: neither has it). Reports sort the paper's networks by it, as the paper prints them."""
    for table, names in ((1, list(_TABLE1_BY_NAME)), (3, list(_TABLE3_BY_NAME))):
        if paper_name in names:
            return table, names.index(paper_name)
    return None
