@wos @V24 @capabilities
Feature: Capabilities reports
  The orchestrator accepts a device's capabilities when it onboards and whenever they
  change, refuses documents that break the schema without losing what it held, and refuses
  reports that do not carry the device's access token.

  Background:
    Given the orchestrator has a device registered by its owner
    And the device has onboarded and holds an access token

  @must @req_CAP_002 @req_CAP_003
  Scenario: Valid capabilities are accepted when first reported and when updated
    When the device reports valid capabilities
    Then the orchestrator accepts the report as created
    When the device reports changed capabilities as an update
    Then the orchestrator accepts the report as created
    And the orchestrator holds the changed capabilities

  @must @req_CAP_003 @req_CAP_004 @req_CAP_005
  Scenario Outline: Capabilities that break the schema are refused and change nothing
    Given the device has reported valid capabilities
    When the device reports capabilities <defect>
    Then the orchestrator refuses the request
    And the refusal is a client error, as the suite advises
    And the orchestrator still holds the capabilities reported before

    Examples:
      | defect                            |
      | without a serial number           |
      | with memory given as text         |
      | of the wrong kind                 |
      | without a CPU architecture        |
      | with a role Margo does not define |
      | with resources given as a list    |

  @must @req_TOK_005
  Scenario: Capabilities without an access token are refused
    When the device reports valid capabilities without an access token
    Then the orchestrator refuses the request as unauthenticated
