"""Measure Table 1's efficiency columns for one model: `python src/bench.py model=fcn_basic`."""

import hydra
from omegaconf import DictConfig

from segbench.benchmarks.measure_efficiency import benchmark
from segbench.utils import exit_on_user_error


@hydra.main(version_base="1.3", config_path="../conf", config_name="bench")
@exit_on_user_error
def main(cfg: DictConfig) -> None:
    benchmark(cfg)


if __name__ == "__main__":
    main()
