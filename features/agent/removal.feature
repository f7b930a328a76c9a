@agent @V24 @removal
Feature: Desired state removed from the repository is undone
  When the orchestrator deletes a deployment's document from the device's repository, the
  deployment is no longer desired: the agent stops and removes its workloads.

  The pre-draft has no state to report a removal in (its four states are Pending, Installing,
  Installed and Failed; Removing and Removed arrive with 1.0, see 2.1 and I-6), and reporting
  one of them would send a V24 orchestrator a state it must refuse. The suite's V24 choice: a
  removal is reported by silence. Once the agent has fetched the removal it sends no further
  status report for that deployment (least of all Failed), and the deployment's workloads stop.
  The suite sees workloads when the SUT file passes it the labels to put on them; without
  them this scenario is skipped, saying so.

  Background:
    Given the orchestrator expects a new device
    And the device's agent is configured with the orchestrator's address
    And the agent has started and onboarded

  @must @req_GIT_004 @req_STS_004
  Scenario: A deployment deleted from the repository is removed from the device
    Given the orchestrator has published the deployment "hello-compose" and the agent installed it
    When the orchestrator removes the deployment "hello-compose"
    Then the agent fetches the new desired state within its polling interval
    And the workloads of the deployment "hello-compose" stop
    And the agent reports nothing more for the deployment "hello-compose"
