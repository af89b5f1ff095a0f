"""Studies over many runs: head-to-head benches, ranking studies, and their reports."""
