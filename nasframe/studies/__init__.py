"""Studies over many runs: head-to-head benches, ranking studies, and their reports."""

RANK_EVALUATORS = ("scratch", "supernet")
"""How ``nasframe rank`` scores an architecture each epoch: trained alone from scratch, or in one shared supernet."""

REPORT_FORMATS = ("table", "markdown", "csv", "json")
"""What ``nasframe report --format`` writes: rich tables, GitHub markdown, raw csv, every number as json."""
