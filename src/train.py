"""Train one model: `python src/train.py model=segnet_basic dataset=camvid balancing=median_frequency`."""

import sys

import hydra
from omegaconf import DictConfig

from segbench.extras import require_launcher
from segbench.pipeline import train
from segbench.utils import exit_on_user_error, isolating_sweep_jobs


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
@exit_on_user_error
@isolating_sweep_jobs
def main(cfg: DictConfig) -> float | None:
    # The returned value lets Hydra sweepers optimise the selected validation G.
    return train(cfg).val.get("val/G")


if __name__ == "__main__":
    require_launcher(sys.argv[1:])
    main()
