"""Step definitions, one module per vocabulary; registered as plugins by conformance.ini."""
