@wos @PR1 @onboarding
Feature: Onboarding a device with its own certificate
  In the Margo 1.0 preview a device onboards by presenting an X.509 certificate it made
  itself. The orchestrator serves its root certificate to any device, answers each onboarding
  with a client id of its own that the device then puts in every path, and refuses an
  onboarding request it cannot read, saying why.

  Background:
    Given the orchestrator has a device registered by its owner

  @must @req_CRT_010
  Scenario: The root certificate is served to a device that has signed nothing
    When the device downloads the orchestrator's root certificate
    Then the orchestrator answers with a certificate the device can parse

  @must @req_ONB_011 @req_ONB_013
  Scenario: Each device that onboards with its certificate gets a client id of its own
    When the device onboards with its certificate
    Then the orchestrator answers with a client id that is safe in a URL
    When another device onboards with its own certificate
    Then the two devices hold different client ids

  @must @req_ONB_012 @req_ERR_002
  Scenario Outline: An onboarding request the orchestrator cannot read is refused as malformed
    When the device onboards with <defect>
    Then the orchestrator refuses the onboarding as malformed
    And the refusal says what was wrong in an error member

    Examples:
      | defect                          |
      | a certificate that is not X.509 |
      | a body that is not JSON         |
