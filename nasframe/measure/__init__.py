"""What networks cost: parameters, multiply-adds, latency, memory; and rank correlation for studies."""
