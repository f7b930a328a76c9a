@agent @V24 @failure
Feature: Desired state that cannot be applied
  Sooner or later an orchestrator publishes desired state a device cannot apply: a document
  that is not YAML, an ApplicationDeployment that breaks the schema, a deployment profile the
  standard does not know, a package that cannot be fetched. The agent tells the orchestrator
  which deployment failed and why (the state Failed, with an error code and a message), for the
  failing component too when one is to blame, installs nothing of what it refused, keeps
  running, and leaves the device's other deployments exactly as they were.

  The pre-draft does not say how a device treats a document that breaks the schema. The suite's
  default: the agent does not apply it, and reports it Failed like any other failure (STS-006).
  It is an interop choice: an agent whose SUT file declares that it does something else
  (interop.invalid_deployments) is not asked about such a document.
  A document that is not YAML names no deployment, so there is nothing to report it under: the
  agent must simply keep going and apply the rest of its desired state.

  "Left as it was" means: from the moment the broken document is published until the agent
  has reported it Failed and polled its repository once more, the agent sends no status report
  for the other deployment and, where the suite can see the device's workloads, stops or starts
  none of its containers.

  Background:
    Given the orchestrator expects a new device
    And the device's agent is configured with the orchestrator's address
    And the agent has started and onboarded

  @must @req_STS_006 @req_STS_001 @req_GIT_004
  Scenario Outline: A deployment the agent cannot accept is reported as Failed and the rest is left alone
    Given the orchestrator has published the deployment "hello-compose" and the agent installed it
    When the orchestrator publishes the deployment "<deployment>"
    Then the agent reports the deployment "<deployment>" as Failed with an error code and message
    And the agent installs no component of the deployment "<deployment>"
    And the deployment "hello-compose" is left as it was
    And the agent is still running

    # parameter-without-targets breaks the ApplicationDeployment schema: one of its parameters
    # says nowhere where its value goes (asked only with the default interop.invalid_deployments).
    @needs_invalid_deployments_reported
    Examples:
      | deployment                |
      | parameter-without-targets |

    # unknown-profile-type names a deployment profile type the standard does not define.
    Examples:
      | deployment                |
      | unknown-profile-type      |

  @must @req_STS_006 @req_STS_001 @req_STS_003 @req_GIT_004
  Scenario: A component whose package cannot be fetched fails its deployment
    Given the orchestrator has published the deployment "hello-compose" and the agent installed it
    When the orchestrator publishes the deployment "missing-package"
    Then the agent reports the component "web" of the deployment "missing-package" as Failed with an error code and message
    And the agent reports the deployment "missing-package" as Failed with an error code and message
    And the deployment "hello-compose" is left as it was
    And the agent is still running

  @must @req_GIT_004 @req_STS_001
  Scenario: A document that is not YAML does not keep the agent from applying the rest
    When the orchestrator publishes a document that is not YAML beside the deployment "hello-compose"
    Then the agent reports the deployment as Pending, then Installing, then Installed
    And the agent is still running
