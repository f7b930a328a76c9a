@wos @V24 @onboarding
Feature: Onboarding a device
  The orchestrator hands a new device what it needs to work with it: the root certificate,
  client credentials with the address of its token endpoint, and its own desired-state
  repository with an access token. Its token endpoint issues bearer tokens for valid client
  credentials only.

  The 2024 pre-draft leaves the onboarding messages open. The suite speaks its documented
  exchange unless the SUT file declares the orchestrator's own; one that declares it hands out
  no one-time onboarding keys is not asked to refuse a wrong one.

  Background:
    Given the orchestrator has a device registered by its owner

  @must @req_CRT_001
  Scenario: The root certificate can be downloaded and parsed
    When the device downloads the orchestrator's root certificate
    Then the orchestrator answers with a certificate the device can parse

  @must @req_ONB_003 @req_ONB_004
  Scenario: Onboarding hands out client credentials, a token endpoint and a repository
    When the device onboards with its onboarding key
    Then the orchestrator answers with the device's client credentials and token endpoint
    And the answer names the device's desired-state repository and an access token for it

  @must @req_ONB_003 @needs_onboarding_keys
  Scenario: Onboarding with a wrong onboarding key is refused
    When the device onboards with a wrong onboarding key
    Then the orchestrator refuses the request
    And the refusal is a client error, as the suite advises

  @must @req_TOK_003
  Scenario: The token endpoint issues bearer tokens for valid client credentials
    Given the device has onboarded
    When the device asks for an access token with its client credentials
    Then the orchestrator issues a bearer token with its lifetime

  @must @req_TOK_003 @req_TOK_005
  Scenario: The token endpoint refuses a wrong client secret
    Given the device has onboarded
    When the device asks for an access token with a wrong client secret
    Then the orchestrator refuses the request
    And the refusal is a client error, as the suite advises
