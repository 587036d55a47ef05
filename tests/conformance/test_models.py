"""The conformance suite (`segbench.conformance`) over every model config found: conf/model/** and the folders
of $SEGBENCH_CONF. A new config needs no edit here; `make conformance [CONF=dir]` runs every check on every config."""

from __future__ import annotations

import pytest

from segbench import conformance

VARIANTS = conformance.variants(conformance.extra_conf_dirs())


@pytest.mark.parametrize("check", sorted(conformance.CHECKS))
@pytest.mark.parametrize("variant", VARIANTS, ids=[variant.name for variant in VARIANTS])
def test_model_config_conforms(variant, check, tmp_path):
    if (reason := conformance.applies(variant, check)) is not None:
        pytest.skip(reason)
    if check == "onnx":
        pytest.importorskip("onnxruntime")
        conformance.check_onnx(variant, tmp_path)
    else:
        conformance.CHECKS[check](variant)
