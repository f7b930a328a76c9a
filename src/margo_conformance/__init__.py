"""margo-conformance: the conformance test suite for Margo agents and WOS implementations."""

__version__ = "0.1.0"
SUITE_NAME = "margo-conformance"
