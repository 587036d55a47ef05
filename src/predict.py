"""Segment images with a trained network: `python src/predict.py inputs=<image or folder> [ckpt_path=...]`."""

import hydra
from omegaconf import DictConfig

from segbench.predict import predict
from segbench.utils import exit_on_user_error


@hydra.main(version_base="1.3", config_path="../conf", config_name="predict")
@exit_on_user_error
def main(cfg: DictConfig) -> None:
    predict(cfg)


if __name__ == "__main__":
    main()
