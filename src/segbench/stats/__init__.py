"""Uncertainty of scores and of the conclusions drawn from them (beyond the paper)."""
