"""Studies built on the engine: bench (head-to-head trials), rank (Kendall τ studies), report (tables)."""

RANK_EVALUATORS = ("scratch", "supernet")
"""How ``nasframe rank`` scores an architecture each epoch: trained alone from scratch, or in one shared supernet."""
