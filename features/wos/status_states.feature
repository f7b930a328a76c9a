@wos @V24 @status
Feature: The states a deployment can be in
  V24 names four states for a deployment and for each of its components: Pending,
  Installing, Installed and Failed. The orchestrator accepts each of them, spelled as in the
  pre-draft's table or in the lowercase of its example (I-6), and shows its operator the
  state reported. It refuses a report with any other state, for the deployment or for one
  of its components, and goes on showing the state reported before.

  Background:
    Given the orchestrator has a device registered by its owner
    And the device has onboarded and holds an access token
    And the operator has deployed the application "two-components" to the device

  @must @req_STS_002 @req_STS_004
  Scenario: Every state Margo defines is accepted and shown, in either spelling
    When the device reports the deployment in turn as every state Margo defines
    Then the orchestrator accepts each of those reports and shows the state reported

  @must @req_STS_002 @req_STS_004
  Scenario Outline: A state Margo does not define is refused and changes nothing
    Given the device has reported the deployment as Installing
    When the device reports the deployment with <undefined state>
    Then the orchestrator refuses the request
    And the refusal is a client error, as the suite advises
    And the orchestrator shows the deployment as Installing

    Examples:
      | undefined state                                |
      | a state Margo does not define                  |
      | one component in a state Margo does not define |
      | a state from a later Margo version             |
