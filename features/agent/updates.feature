@agent @V24 @update
Feature: Changed desired state is applied again
  The orchestrator changes a deployment by committing a new revision of its document: the same
  deployment id in the same file, with a new parameter value or a new package for a component.
  The agent applies the change and reports it, and where the suite can see the device's
  workloads it sees them replaced by ones that carry the change. Several deployments on one
  device are applied side by side, each with status reports of its own, and one that fails
  does not hold the others back.

  V24 has no state for an update (2.1): the suite expects the changed deployment to go through
  Installing to Installed again. A Pending report before them is welcome (the agent has new
  desired state it has not started on), not required.

  Background:
    Given the orchestrator expects a new device
    And the device's agent is configured with the orchestrator's address
    And the agent has started and onboarded

  @must @req_GIT_004 @req_STS_001
  Scenario Outline: A changed deployment is applied again and reported
    Given the orchestrator has published the deployment "hello-compose" and the agent installed it
    When the orchestrator publishes the revision "<revision>" of the deployment "hello-compose"
    Then the agent fetches the new desired state within its polling interval
    And the agent reports the deployment "hello-compose" as Installing, then Installed again
    And the device runs the deployment "hello-compose" as changed, and nothing of the version before

    # new-greeting changes the value of the deployment's parameter; new-package points its
    # component at a new revision of its package.
    Examples:
      | revision     |
      | new-greeting |
      | new-package  |

  @must @req_GIT_004 @req_STS_001 @req_STS_003 @req_STS_006
  Scenario: Several deployments on one device progress independently
    When the orchestrator publishes the deployments "hello-compose", "two-components" and "missing-package" together
    Then the agent reports the deployment "hello-compose" as Pending, then Installing, then Installed
    And the agent reports the deployment "two-components" as Pending, then Installing, then Installed
    And the agent reports the deployment "missing-package" as Failed with an error code and message
    And every status report names its own deployment and only that deployment's components
