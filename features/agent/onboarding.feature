@agent @V24 @onboarding
Feature: Onboarding and capabilities reporting
  A device's agent joins the workload orchestrator its owner configured: it fetches the
  orchestrator's root certificate, onboards with its device identity, obtains an access
  token with the client credentials it was issued, and describes its device.

  Background:
    Given the orchestrator expects a new device
    And the device's agent is configured with the orchestrator's address

  @must @req_ONB_001 @req_ONB_002 @req_CRT_002
  Scenario: The agent onboards with the orchestrator it was configured with
    When the agent starts
    Then the agent downloads the orchestrator's root certificate
    And the agent onboards with its device identity after downloading the root certificate

  @must @req_TOK_001 @req_TOK_002
  Scenario: The agent authenticates with an access token obtained from its client credentials
    When the agent starts
    Then the agent obtains an access token with the client credentials it was issued
    And every request the agent sends to the device API carries a valid access token

  @must @req_ONB_005 @req_CAP_001 @req_CAP_003 @req_CAP_004 @req_CAP_005
  Scenario: The agent reports its capabilities when it onboards
    When the agent starts
    Then the agent reports its device capabilities after onboarding
    And the reported capabilities are a valid capabilities document
    And the reported capabilities describe the device the agent onboarded as
