"""Margo V24 reference device management client ("agent").

The agent onboards with a Workload Orchestration Software (WOS), reports the device's
capabilities, watches its Git desired-state repository and runs the docker-compose
workloads it finds there, reporting each deployment's progress back to the WOS.
"""

__version__ = "0.1.0"
