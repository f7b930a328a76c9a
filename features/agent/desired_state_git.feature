@agent @V24 @gitops
Feature: Desired state pulled from the device's Git repository
  The orchestrator keeps each device's desired state in a Git repository of its own. The
  agent watches that repository with the access token it was issued, at the polling
  interval its owner configured, and pulls new desired state when it changes.

  Background:
    Given the orchestrator expects a new device
    And the device's agent is configured with the orchestrator's address
    And the agent has started and onboarded

  @must @req_GIT_003 @req_GIT_005 @req_ONB_004
  Scenario: The agent watches its assigned repository with the access token it was issued
    Then the agent reads its assigned repository using the access token it was issued

  @must @req_GIT_003 @req_GIT_004 @req_CFG_003
  Scenario: A newly published deployment is fetched within the polling interval
    When the orchestrator publishes the deployment "hello-compose"
    Then the agent fetches the new desired state within its polling interval

  @must @req_GIT_003 @req_GIT_007 @req_CFG_004
  Scenario: The agent keeps going while the repository refuses its access token
    When the repository starts refusing the agent's access token
    Then the repository refuses the agent's next attempt to read it
    And the agent is still running
    When the repository accepts the agent's access token again
    And the orchestrator publishes the deployment "hello-compose"
    Then the agent fetches the new desired state within its polling interval
