"""The commands: the CLI, the runner and its pytest plugin, selftest, stability, listing, setup, fleet."""
