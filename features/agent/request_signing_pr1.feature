@agent @PR1 @signing
Feature: Requests signed with the agent's certificate
  In the Margo 1.0 preview an agent signs each request it sends (RFC 9421) with the key of the
  certificate it onboarded with, over the method, the target URI and a digest of the body;
  its onboarding request is signed with the key of the certificate that request carries. The
  orchestrator verifies every signature and says why one does not hold.

  Background:
    Given the orchestrator expects a new device
    And the device's agent is configured with the orchestrator's address

  @must @req_ONB_014 @req_SEC_011
  Scenario: The agent signs every request with the key of the certificate it onboarded with
    When the agent starts
    And the orchestrator publishes the deployment "hello-compose"
    Then the agent's onboarding request is signed with the key of the certificate it presents
    And every request the agent sends after onboarding is signed with the key of its certificate
