"""The fleet profile: N simulated devices against a WOS under test, driven by Locust.

`margo-conformance fleet --sut WOS_SUT_FILE --devices N --duration S` starts the WOS the way
the WOS role does, registers N devices through its control adapter and deploys an
application to each, then runs Locust: every simulated device onboards, obtains a token,
reports its capabilities and then, at its polling interval, polls its desired-state
repository the way `git fetch` does and reports the deployment's status. The figures
(throughput, latency percentiles per endpoint, error rate, devices sustained) go to
`performance.json` and a section of report.html; pass or fail only against thresholds the
user gives.

Importing this package does not import Locust (which monkey-patches the process with gevent):
`margo_conformance.commands.fleet.__main__` is the process that does.
"""
