"""Figures: AP curves of runs, FGD masks and attention maps."""
