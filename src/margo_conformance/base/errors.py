"""Exception types that decide a scenario's outcome and the process exit code.

A conformance verdict has four outcomes. `ConformanceFailure` (an AssertionError) means the
SUT broke a requirement: *fail*. `SutError` means the SUT could not be brought to the point
where a requirement can be judged (it never started, crashed, never became ready): *error*,
with the SUT blamed in the message. `SuiteError` means the suite or its infrastructure broke:
*error*. `ConfigError` is a usage problem: exit code 2 before anything runs.
"""

from __future__ import annotations


class ConfigError(Exception):
    """A bad SUT file or command line: one line naming the field, exit code 2."""


class ConformanceFailure(AssertionError):
    """The SUT violated a requirement; the message names it and what was observed."""


class SuiteError(Exception):
    """The suite or its infrastructure broke (exit 3); not the SUT's fault."""


class SutError(Exception):
    """The SUT could not be started or stopped answering before a verdict was possible."""


class PreconditionNotMet(SutError):
    """The SUT never reached the state a scenario needs before its checks (an agent that sends
    no status cannot be cut off mid-report): ERROR, no verdict on the scenario's requirements;
    the scenarios about the missing behaviour fail on their own."""


class StepOrderError(SuiteError):
    """A step needs state an earlier step should have set: the feature file is wrong."""


class EnvironmentSetupError(SuiteError):
    """No Docker engine could be reached or started here; the message says what to do."""


class ImageBuildError(SuiteError):
    """An image the suite needs could not be built: the tag and the build's last error line."""
