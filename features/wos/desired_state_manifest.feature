@wos @PR1 @manifest
Feature: Desired state served as a state manifest
  In the Margo 1.0 profile the orchestrator serves each client a state manifest: a versioned,
  deterministic list of its deployments, each at a content address named by the digest of
  its bytes, and the same documents as one bundle. The manifest carries a strong entity tag
  over its exact bytes, so a device can revalidate it cheaply.

  Background:
    Given the orchestrator has a device registered by its owner
    And the device has onboarded

  @must @req_DSA_001 @req_DSA_003 @req_DSA_004 @req_DSA_006 @req_DSA_008
  Scenario: The manifest carries a strong entity tag over its exact bytes
    When the device fetches its state manifest
    Then the orchestrator serves a valid state manifest
    And the manifest lists no deployments and its bundle is null
    When the device fetches its state manifest again with the entity tag it holds
    Then the orchestrator answers that nothing changed

  @must @req_DSA_001 @req_DSA_004 @req_DSA_006 @req_DSA_008 @req_DSA_009 @req_DSA_010 @req_DSA_011 @req_DSA_012
  @req_DSA_014 @req_DSA_050 @req_DSA_051 @req_DSA_052
  Scenario: Every listed document is served at its content address with matching bytes
    When the operator deploys the application "two-components" to the device
    And the device fetches its state manifest
    Then the orchestrator serves a valid state manifest
    And every document the manifest lists is served at its content address, byte for byte
    And every listed document is a valid ApplicationDeployment of the application deployed
    And the bundle holds exactly the listed documents, byte for byte

  @must @req_DSA_002
  Scenario: A representation the device cannot accept is refused
    When the device fetches its state manifest accepting only a web page
    Then the orchestrator answers that it cannot serve that representation

  @must @req_DSA_003 @req_DSA_007 @req_DSA_010 @req_DSA_036
  Scenario: The manifest version increases whenever the desired state changes
    When the device fetches its state manifest
    And the operator deploys the application "hello-compose" to the device
    And the device fetches its state manifest again with the entity tag it holds
    Then the orchestrator serves a new state manifest
    And the manifest version increased and the manifest lists the deployment
    When the operator removes that deployment
    And the device fetches its state manifest again with the entity tag it holds
    Then the manifest version increased and the manifest no longer lists the deployment

  @must @req_DSA_013
  Scenario: A listed deployment asked for at a digest it does not have is not found
    When the operator deploys the application "hello-compose" to the device
    And the device fetches its state manifest
    And the device fetches the listed deployment at a digest it was never given
    Then the orchestrator answers that there is no such deployment
