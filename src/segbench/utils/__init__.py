from segbench.utils.config import instantiate_group, register_resolvers
from segbench.utils.entry import exit_on_user_error, isolating_sweep_jobs

__all__ = ["exit_on_user_error", "instantiate_group", "isolating_sweep_jobs", "register_resolvers"]
