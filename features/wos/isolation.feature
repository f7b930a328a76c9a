@wos @V24 @isolation
Feature: A device's reports are its own
  The orchestrator accepts a device's capabilities and status reports only with the access
  token it issued to that device: not without a token, not with a token it never issued and
  not with another device's token. A refused report changes nothing the orchestrator holds.
  When two devices report at the same time, each device's reports are filed under that
  device, and the orchestrator shows each device only its own.

  The other requests a device sends are protected by other means: its onboarding request by
  the onboarding key and its token request by the client credentials (onboarding.feature),
  its desired-state repository by the repository's access token (desired_state_git.feature
  and the last scenario below).

  Background:
    Given the orchestrator has a device registered by its owner
    And the device has onboarded and holds an access token
    And another device has onboarded and holds an access token

  @must @req_TOK_005
  Scenario Outline: A report without the device's own access token is refused and changes nothing
    Given the operator has deployed the application "hello-compose" to the device
    When a <report> for the device is sent <credentials>
    Then the orchestrator refuses the request as unauthenticated
    And what the orchestrator holds from the device's <report> is unchanged

    Examples:
      | report              | credentials                                         |
      | capabilities report | without an access token                             |
      | capabilities report | with an access token the orchestrator never issued |
      | capabilities report | with another device's access token                  |
      | status report       | without an access token                             |
      | status report       | with an access token the orchestrator never issued |
      | status report       | with another device's access token                  |

  @must @req_STS_002 @req_CAP_002
  Scenario: Two devices reporting at the same time each see only their own reports
    Given the operator has deployed the application "hello-compose" to the device
    And the operator has deployed the application "two-components" to the other device
    When both devices report their capabilities and deployment status at the same time, round after round
    Then the orchestrator accepts every report of both devices
    And the orchestrator shows each device only its own capabilities and deployment status

  @must @req_GIT_006 @req_TOK_005
  Scenario: The repository cannot be read with an access token the orchestrator never issued
    When someone reads the device's repository with an access token the orchestrator never issued
    Then the repository refuses to be read
