@agent @PR1 @onboarding
Feature: Onboarding and capabilities reporting in the Margo 1.0 profile
  In the Margo 1.0 profile a device's agent onboards with a certificate of its own and is
  assigned a client id, under which it addresses the orchestrator from then on. Its last step
  of onboarding is to describe its device: what it is and what it offers for hosting
  workloads. Only then does it follow its desired state.

  Background:
    Given the orchestrator expects a new device
    And the device's agent is configured with the orchestrator's address

  @must @req_ONB_005 @req_CAP_001
  Scenario: Reporting its capabilities is the last step of the agent's onboarding
    When the agent starts
    Then the agent reports its device capabilities as the last step of onboarding

  @must @req_CAP_011 @req_CAP_012
  Scenario: The agent describes its device as one that hosts workloads
    When the agent starts
    Then the reported capabilities are a valid capabilities document
    And the reported capabilities show a device that hosts workloads: an OpenTelemetry collector, a runtime and a deployment type

  @must @req_ONB_015
  Scenario: The agent addresses the orchestrator with the client id it was assigned
    When the agent starts
    And the orchestrator publishes the deployment "hello-compose"
    Then every request the agent sends after onboarding names the client id it was assigned
