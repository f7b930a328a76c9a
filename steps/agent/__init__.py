"""Agent-role steps: the suite plays the WOS and judges the agent, one module per vocabulary."""
