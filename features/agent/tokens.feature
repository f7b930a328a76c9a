@agent @V24 @tokens
Feature: The agent gets a new access token when its token stops working
  Every call to the device API carries an OAuth 2.0 bearer token (TOK-001) that the agent gets
  with its client credentials (TOK-002). Tokens end: they expire, and an orchestrator can
  revoke them. When the orchestrator turns a token away, the agent obtains a new one with the
  same client credentials and carries on; it does not stop, and it does not give up what it was
  sending.

  The pre-draft leaves token renewal open and says both "a token per request" and "valid for an
  hour" (I-20); the suite accepts reuse of a token within its lifetime and does not test when an
  agent renews one. What it tests is the outcome the pre-draft's OAuth 2.0 requires in any
  reading: a token the orchestrator no longer accepts (an HTTP 401 with the error
  invalid_token, which RFC 6750 uses for expired and revoked tokens alike) is replaced, not
  retried forever, and the report it was carrying is delivered.

  Background:
    Given the orchestrator expects a new device
    And the device's agent is configured with the orchestrator's address
    And the agent has started and onboarded

  @must @req_TOK_001 @req_TOK_002 @req_TOK_004 @req_STS_001 @req_GIT_004
  Scenario Outline: An access token the orchestrator no longer accepts is replaced
    When the agent's access token <becomes invalid>
    And the orchestrator publishes the deployment "hello-compose"
    Then the orchestrator turns the agent's old access token away
    And the agent obtains a new access token with the client credentials it was issued
    And the agent reports the deployment as Pending, then Installing, then Installed

    Examples:
      | becomes invalid |
      | expires         |
      | is revoked      |
