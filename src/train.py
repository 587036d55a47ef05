"""Train one model: `python src/train.py model=segnet_basic dataset=camvid balancing=median_frequency`."""

import hydra
from omegaconf import DictConfig

from segbench.pipeline import train
from segbench.utils import exit_on_user_error


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
@exit_on_user_error
def main(cfg: DictConfig) -> float:
    # The returned value lets Hydra sweepers optimise the selected validation G.
    return train(cfg)["val"]["val/G"]


if __name__ == "__main__":
    main()
