"""Step definitions by role: `steps.agent` (the suite plays the WOS), `steps.wos` (the suite plays
the device); `scenarios.py` binds the features.

margo_conformance.commands.plugin registers every module of the role packages (`step_modules`). The roles
share no step text and no helper; vocabulary both used would go in a third package beside them.
"""
