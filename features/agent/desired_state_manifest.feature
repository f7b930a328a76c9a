@agent @PR1 @manifest
Feature: Desired state pulled from the state manifest
  In the Margo 1.0 profile the orchestrator serves each client a state manifest over HTTP:
  a versioned list of its deployments, each content addressed by a digest, also offered as
  one bundle. The agent polls the manifest, revalidates it with the entity tag it holds, never
  goes back to an older version, checks every digest before it uses what it fetched, and
  removes a deployment only when the manifest no longer lists it.

  Background:
    Given the orchestrator expects a new device
    And the device's agent is configured with the orchestrator's address
    And the agent has started and onboarded

  @must @req_DSA_030
  Scenario: The agent revalidates its state manifest with the entity tag it holds
    Then the agent polls its state manifest asking for the manifest media type
    And the agent's later polls carry the entity tag of the manifest it holds

  @must @req_DSA_030 @req_DSA_036 @req_STS_001
  Scenario: A new manifest version is picked up within the polling interval
    When the orchestrator publishes the deployment "hello-compose"
    Then the agent fetches the new desired state within its polling interval
    And the agent reports the deployment as Pending, then Installing, then Installed

  @must @req_DSA_031
  Scenario: The agent refuses a manifest whose version goes backwards
    Given the orchestrator has published the deployment "hello-compose" and the agent installed it
    When the orchestrator serves an older manifest version without the deployment
    Then the agent fetches the older manifest
    And the agent does not start removing the deployment "hello-compose"

  @must @req_DSA_032
  Scenario: Content that does not match its digest is not applied
    When the orchestrator publishes the deployment "hello-compose" with content that does not match its digest
    Then the agent fetches the content of the deployment "hello-compose"
    And the agent does not report the deployment "hello-compose" as Installed

  @must @req_DSA_035 @req_DSA_036
  Scenario: Only absence from the manifest removes a deployment
    Given the orchestrator has published the deployment "hello-compose" and the agent installed it
    When the orchestrator stops serving the deployment's content but still lists it
    And the orchestrator publishes the deployment "two-components"
    Then the agent fetches the new desired state within its polling interval
    And the agent does not start removing the deployment "hello-compose"
    When the orchestrator removes the deployment "hello-compose"
    Then the agent reports the deployment "hello-compose" as Removing, then Removed

  @must @req_DSA_033
  Scenario: A manifest that uses a digest algorithm the standard does not name is not processed
    Given the orchestrator has published the deployment "two-components" and the agent installed it
    When the orchestrator publishes the deployment "hello-compose" under a digest of an algorithm the standard does not name
    Then the agent fetches the new desired state within its polling interval
    And the agent does not report the deployment "hello-compose" as Installed
    And the agent does not start removing the deployment "two-components"

  @must @req_DSA_039
  Scenario: Specification extensions in a deployment do not keep it from being installed
    When the orchestrator publishes the deployment "hello-compose-extended"
    Then the agent installs the deployment "hello-compose-extended", ignoring its specification extensions
