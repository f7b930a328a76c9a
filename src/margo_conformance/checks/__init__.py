"""The checks: how a step judges the SUT (expect), and the pure rules over what the SUT sent."""
