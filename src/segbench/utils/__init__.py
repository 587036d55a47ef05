from segbench.utils.config import instantiate_group, register_resolvers
from segbench.utils.entry import command_line, exit_on_user_error, isolating_sweep_jobs

__all__ = ["command_line", "exit_on_user_error", "instantiate_group", "isolating_sweep_jobs", "register_resolvers"]
