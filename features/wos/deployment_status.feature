@wos @V24 @status
Feature: Deployment status reports
  The orchestrator accepts status reports for the deployments it assigned to a device,
  shows its operator the latest state, and refuses reports that are malformed or concern
  deployments it does not know.

  Background:
    Given the orchestrator has a device registered by its owner
    And the device has onboarded and holds an access token
    And the operator has deployed the application "two-components" to the device

  @must @req_STS_002 @req_STS_003
  Scenario: The orchestrator accepts status reports and shows the latest state
    When the device reports the deployment as Installing
    Then the orchestrator accepts the report as created
    When the device reports the deployment as Installed
    Then the orchestrator accepts the report as created
    And the orchestrator shows the deployment as Installed

  @must @req_STS_002 @req_STS_003 @req_STS_004
  Scenario: A malformed status report is refused
    When the device reports the deployment with a state Margo does not define
    Then the orchestrator refuses the request
    And the refusal is a client error, as the suite advises

  @must @req_STS_002
  Scenario: A status report for an unknown deployment is refused
    When the device reports the status of a deployment the orchestrator never assigned
    Then the orchestrator refuses the request
    And the refusal is a client error, as the suite advises
