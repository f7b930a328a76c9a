"""Margo V24 reference Workload Orchestration Software (the server side of the standard).

It exists so the conformance suite can be proven against an implementation written apart
from the suite's own emulated WOS; it must not import margo_conformance.
"""
