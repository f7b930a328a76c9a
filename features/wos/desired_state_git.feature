@wos @V24 @gitops
Feature: Desired state in the device's Git repository
  When its operator deploys an application to a device, the orchestrator commits an
  ApplicationDeployment to that device's repository, and removes it when the application is
  removed. Only the device itself may read its repository.

  Background:
    Given the orchestrator has a device registered by its owner
    And the device has onboarded and holds an access token

  @must @req_GIT_001 @req_GIT_002 @req_GIT_008 @req_GIT_009
  Scenario: A deployment appears in the device's repository as a valid document
    When the operator deploys the application "hello-compose" to the device
    Then the device's repository holds one ApplicationDeployment for that deployment
    And the deployment document is valid and carries the application as deployed

  @must @req_GIT_001 @req_GIT_002
  Scenario: Removing a deployment deletes it from the repository
    Given the operator has deployed the application "hello-compose" to the device
    When the operator removes that deployment
    Then the device's repository no longer holds that deployment

  @must @req_GIT_006 @req_TOK_005
  Scenario: The repository cannot be read without the access token
    When someone reads the device's repository without an access token
    Then the repository refuses to be read

  @must @req_GIT_001 @req_GIT_006
  Scenario: A device cannot read another device's repository
    Given another device has onboarded with the orchestrator
    And the operator has deployed the application "hello-compose" to the device
    When the other device reads the device's repository with its own access token
    Then the repository refuses to be read
