"""Results: the run's results tree, its verdict rules and their inputs (coverage, waivers, identity)."""
