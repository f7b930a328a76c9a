@wos @PR1 @status
Feature: Deployment status reports under the client id
  A device onboarded in the Margo 1.0 preview reports the state of each deployment under its
  client id. The orchestrator accepts valid reports and shows its operator the latest state;
  it refuses a report it cannot read as malformed and one that breaks the rules as
  unprocessable, and neither changes what it shows.

  Background:
    Given the orchestrator has a device registered by its owner
    And the device has onboarded
    And the operator has deployed the application "two-components" to the device

  @must @req_STS_010
  Scenario: The orchestrator accepts status reports and shows its operator the latest state
    When the device reports the deployment as installing
    Then the orchestrator accepts the report
    When the device reports the deployment as installed
    Then the orchestrator accepts the report
    And the orchestrator shows the deployment as installed

  @must @req_STS_020
  Scenario Outline: A status report that breaks the rules is refused as unprocessable
    When the device reports the deployment as installing
    And the device reports the deployment with <defect>
    Then the orchestrator refuses the document as unprocessable
    And the orchestrator still shows the deployment as installing

    Examples:
      | defect                                       |
      | its state spelled with a capital            |
      | a component in a state Margo does not define |

  @must @req_STS_020
  Scenario: A status report that is not JSON is refused as malformed
    When the device reports the deployment's status in a body that is not JSON
    Then the orchestrator refuses the request as malformed
