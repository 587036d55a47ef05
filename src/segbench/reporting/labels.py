"""The labels reports give a setting, each defined once: the class balancings' names (Table 1's two column groups,
Sec. 3.2) and their short forms (MF, NF)."""

BALANCING_NAMES = {"median_frequency": "Median frequency balancing", "natural": "Natural frequency balancing"}
BALANCING_SHORT = {"median_frequency": "MF", "natural": "NF"}
