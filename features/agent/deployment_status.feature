@agent @V24 @PR1 @status
Feature: Deployment status reporting
  While the agent applies new desired state it tells the orchestrator how far it got, for
  the deployment as a whole and for each of its components.

  Background:
    Given the orchestrator expects a new device
    And the device's agent is configured with the orchestrator's address
    And the agent has started and onboarded

  @must @req_STS_001 @req_STS_003 @req_STS_004 @req_STS_006 @req_GIT_004
  Scenario Outline: The agent reports every step of applying a new deployment
    When the orchestrator publishes the deployment "<deployment>"
    Then the agent reports the deployment as Pending, then Installing, then Installed
    And the agent reports each component as Pending, then Installing, then Installed
    And every status report names the deployment and its components as published
    And every status report is a valid deployment status document

    Examples:
      | deployment    |
      | hello-compose |
      | two-components  |

  @must @req_STS_005 @req_STS_001 @req_STS_003 @req_GIT_004
  Scenario: The overall state follows the component being installed
    When the orchestrator publishes the deployment "two-components"
    Then the agent reports the deployment as Pending, then Installing, then Installed
    And while any component is not yet installed the overall state is that component's state
