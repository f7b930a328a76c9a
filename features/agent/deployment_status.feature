@agent @V24 @PR1 @status
Feature: Deployment status reporting
  While the agent applies new desired state it tells the orchestrator how far it got, for
  the deployment as a whole and for each of its components.

  Background:
    Given the orchestrator expects a new device
    And the device's agent is configured with the orchestrator's address
    And the agent has started and onboarded

  # Each profile's run claims its own wording of these rules: V24 STS-003/STS-004 for the body
  # and its states, 1.0 STS-011 to STS-014 (every change reported, body, lowercase states, one
  # entry per component).
  @must @req_STS_001 @req_STS_003 @req_STS_004 @req_STS_006 @req_GIT_004
  @req_STS_011 @req_STS_012 @req_STS_013 @req_STS_014
  Scenario Outline: The agent reports every step of applying a new deployment
    When the orchestrator publishes the deployment "<deployment>"
    Then the agent reports the deployment as Pending, then Installing, then Installed
    And the agent reports each component as Pending, then Installing, then Installed
    And every status report names the deployment and its components as published
    And every status report is a valid deployment status document
    And the agent reported the status of no deployment the orchestrator never assigned

    Examples:
      | deployment    |
      | hello-compose |
      | two-components  |
