"""Score a checkpoint: `python src/eval.py ckpt_path=... dataset=camvid`."""

import sys

import hydra
from omegaconf import DictConfig

from segbench.extras import require_launcher
from segbench.pipeline import evaluate
from segbench.utils import exit_on_user_error


@hydra.main(version_base="1.3", config_path="../conf", config_name="eval")
@exit_on_user_error
def main(cfg: DictConfig) -> None:
    evaluate(cfg)


if __name__ == "__main__":
    require_launcher(sys.argv[1:])
    main()
