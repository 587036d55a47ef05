"""Numbers copied from the SegNet paper (Badrinarayanan et al., TPAMI 2017).

The single home of the paper's reference values: the metric, tests and reports read them from here.
Facts about the CamVid data set itself (classes, colours, split sizes) live in `segbench.data.camvid`.
"""

from __future__ import annotations

# Table 1: Params (M), storage multiplier, inference time (ms, Titan GPU, 360x480, batch 1) and
# median-frequency-balanced test/train G, C, mIoU (+ test BF). Keyed by our `model=` names.
TABLE1 = {
    "bilinear_interpolation": dict(
        paper_name="Bilinear-Interpolation",
        params_m=0.625,
        storage_multiplier=0,
        infer_ms=24.2,
        test=dict(G=77.9, C=61.1, mIoU=43.3, BF=20.83),
        train=dict(G=89.1, C=90.2, mIoU=82.7),
    ),
    "segnet_basic": dict(
        paper_name="SegNet-Basic",
        params_m=1.425,
        storage_multiplier=1,
        infer_ms=52.6,
        test=dict(G=82.7, C=62.0, mIoU=47.7, BF=35.78),
        train=dict(G=94.7, C=96.2, mIoU=92.7),
    ),
    "segnet_basic_encoder_addition": dict(
        paper_name="SegNet-Basic-EncoderAddition",
        params_m=1.425,
        storage_multiplier=64,
        infer_ms=53.0,
        test=dict(G=83.4, C=63.6, mIoU=48.5, BF=35.92),
        train=dict(G=94.3, C=95.8, mIoU=92.0),
    ),
    "segnet_basic_single_channel_decoder": dict(
        paper_name="SegNet-Basic-SingleChannelDecoder",
        params_m=0.625,
        storage_multiplier=1,
        infer_ms=33.1,
        test=dict(G=81.2, C=60.7, mIoU=46.1, BF=31.62),
        train=dict(G=93.2, C=94.8, mIoU=90.3),
    ),
    "fcn_basic": dict(
        paper_name="FCN-Basic",
        params_m=0.65,
        storage_multiplier=11,
        infer_ms=24.2,
        test=dict(G=81.7, C=62.4, mIoU=47.3, BF=38.11),
        train=dict(G=92.8, C=93.6, mIoU=88.1),
    ),
    "fcn_basic_no_addition": dict(
        paper_name="FCN-Basic-NoAddition",
        params_m=0.65,
        storage_multiplier=None,
        infer_ms=23.8,
        test=dict(G=80.5, C=58.6, mIoU=44.1, BF=31.96),
        train=dict(G=92.5, C=93.0, mIoU=87.2),
    ),
    "fcn_basic_no_dim_reduction": dict(
        paper_name="FCN-Basic-NoDimReduction",
        params_m=1.625,
        storage_multiplier=64,
        infer_ms=44.8,
        test=dict(G=84.1, C=63.4, mIoU=50.1, BF=37.37),
        train=dict(G=95.1, C=96.5, mIoU=93.2),
    ),
    "fcn_basic_no_addition_no_dim_reduction": dict(
        paper_name="FCN-Basic-NoAddition-NoDimReduction",
        params_m=1.625,
        storage_multiplier=0,
        infer_ms=43.9,
        test=dict(G=80.5, C=61.6, mIoU=45.9, BF=30.47),
        train=dict(G=92.5, C=94.6, mIoU=89.9),
    ),
}

# Section 3.3: BF tolerance as a fraction of the image diagonal.
BF_TOLERANCE = 0.0075

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
