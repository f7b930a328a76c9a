@wos @PR1 @capabilities
Feature: Capabilities reports under the client id
  A device onboarded in the Margo 1.0 preview reports what it offers under the client id it
  was given. The orchestrator accepts valid capabilities when first reported and when updated,
  keeps the latest, ignores extension members it does not know, and refuses a document it
  cannot read or that breaks the rules without losing what it held.

  The 1.0 texts name two capabilities routes (I-15): per device, the newest text, which the
  suite uses unless the SUT file declares the per-client route of the 1.0.0 OpenAPI.

  Background:
    Given the orchestrator has a device registered by its owner
    And the device has onboarded

  @must @req_CAP_010
  Scenario: Valid capabilities are accepted under the client id, first reported and updated
    When the device reports valid capabilities
    Then the orchestrator accepts the capabilities
    When the device reports changed capabilities as an update
    Then the orchestrator accepts the capabilities
    And the orchestrator holds the changed capabilities

  @must @req_CAP_010
  Scenario Outline: Capabilities that break the rules are refused as unprocessable and change nothing
    Given the device has reported valid capabilities
    When the device reports capabilities <defect>
    Then the orchestrator refuses the document as unprocessable
    And the orchestrator still holds the capabilities reported before

    Examples:
      | defect                                        |
      | without a serial number                       |
      | with a CPU architecture Margo does not define |
      | with memory in decimal units                  |
      | that host workloads without a deployment type |

  @must @req_CAP_010
  Scenario: Capabilities that are not JSON are refused as malformed
    When the device reports its capabilities in a body that is not JSON
    Then the orchestrator refuses the request as malformed

  @must @req_CAP_017
  Scenario: An extension the orchestrator does not know does not stop capabilities being accepted
    When the device reports valid capabilities with an extension the orchestrator does not know
    Then the orchestrator accepts the capabilities
