"""Export a trained network to ONNX: `python src/export.py ckpt_path=... [format=onnx] [out=...]`."""

import hydra
from omegaconf import DictConfig

from segbench.export import export
from segbench.utils import exit_on_user_error


@hydra.main(version_base="1.3", config_path="../conf", config_name="export")
@exit_on_user_error
def main(cfg: DictConfig) -> None:
    export(cfg)


if __name__ == "__main__":
    main()
