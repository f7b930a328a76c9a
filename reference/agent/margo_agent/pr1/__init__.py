"""The PR1 profile of the reference agent (Margo 1.0 preview): onboarding with a client
certificate, desired state from the HTTP state manifest, lowercase status reports.

`MARGO_PROFILE=PR1` selects it; see README.md in this folder and docs/pr1-wire-contract.md.
Nothing is imported here, so `margo_agent.faults` can import `margo_agent.pr1.faults`
without pulling in the rest of the agent.
"""
