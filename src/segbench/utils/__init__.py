from segbench.utils.config import instantiate_group, register_resolvers
from segbench.utils.entry import exit_on_user_error

__all__ = ["exit_on_user_error", "instantiate_group", "register_resolvers"]
