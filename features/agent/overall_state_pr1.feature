@agent @PR1 @status
Feature: The overall state of a 1.0 deployment is its most severe component state
  Margo 1.0 makes a deployment's overall state the most severe of its component states. Its
  precedence list names one state twice and leaves another out (I-8), so only what every
  reading agrees on is judged: a failed component makes the deployment failed, and the
  deployment is installed, or removed, exactly when every component is. Failures are state
  changes the agent reports like any other (STS-011).

  Background:
    Given the orchestrator expects a new device
    And the device's agent is configured with the orchestrator's address
    And the agent has started and onboarded

  @must @req_STS_011 @req_STS_012 @req_STS_015
  Scenario Outline: The overall state is the most severe component state
    When the orchestrator publishes the deployment "<deployment>"
    Then the agent reports the deployment "<deployment>" as <state> in the end
    And every status report gives the most severe component state as the overall state

    # Both components install; or one of them has a package that cannot be fetched: the
    # first, or the second once the first is installed.
    Examples:
      | deployment             | state     |
      | two-components         | installed |
      | first-package-missing  | failed    |
      | second-package-missing | failed    |
