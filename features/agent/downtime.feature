@agent @V24 @downtime
Feature: The agent rides out extended downtime
  Devices lose their network, and orchestrators go down for maintenance. The management
  interface is built to tolerate that (CFG-004): while the orchestrator and its repository are
  unreachable the device keeps its workloads running, keeps trying to reach them without
  hammering them, and once they are back it catches up on its own and delivers the status
  reports it owes. The owner may also configure a downtime window (CFG-001), a time in which the
  device expects to be offline: inside it the agent does not try to reach the orchestrator at
  all, and does not count the silence as an error.

  Unreachable means unreachable: the suite refuses the device's connections to the orchestrator
  and its repository before any answer, so the agent sees network failures, not error statuses.
  The outage begins as soon as the orchestrator has accepted the agent's first report of a new
  deployment, so the agent owes it the rest. It lasts at least three polling intervals (and a
  few seconds), and one polling interval more after the agent first tried to read its
  repository during it, so that whatever the agent does about an unreachable repository
  happens while it is unreachable. The tolerance for retries, in words: the agent must try to
  read its repository at least once during the outage, and make at most four attempts per
  polling interval over it, plus eight for the quick first retries a backoff begins with,
  counting everything it retries. After the outage the agent must poll its repository again
  within its polling interval plus the lateness the SUT file allows.

  The downtime window opens a few seconds after the agent starts, once it has had time to
  onboard (longer when agents of the run were slower to onboard), and lasts at least three
  polling intervals. An agent not yet onboarded when it opens cannot be judged on it: the
  scenario ends in ERROR saying so; the orchestrator is unreachable for
  exactly that window. An attempt in the window's first moments counts as begun before it.
  When the window closes the agent must fetch what was published meanwhile within its polling
  interval plus the lateness the SUT file allows. The SUT file passes the window to the agent;
  if it cannot, the scenario is skipped, saying so.

  Background:
    Given the orchestrator expects a new device
    And the device's agent is configured with the orchestrator's address

  @must @req_CFG_004 @req_GIT_003 @req_GIT_004 @req_STS_001
  Scenario: The agent keeps its workloads through an outage and delivers the status it owes
    Given the agent has started and onboarded
    And the orchestrator has published the deployment "hello-compose" and the agent installed it
    When the orchestrator publishes the deployment "two-components"
    And the orchestrator and its repository become unreachable as soon as the agent has begun reporting it
    And the orchestrator and its repository are reachable again
    Then while they were unreachable the agent kept trying, backing off between attempts
    And the workloads of the deployment "hello-compose" kept running throughout
    And the agent polls its repository again within its polling interval
    And the agent reports the deployment as Pending, then Installing, then Installed

  @must @req_CFG_001 @req_GIT_003
  Scenario: The agent stays silent during its downtime window
    Given the device's owner configured a downtime window shortly after the agent starts
    And the agent has started and onboarded
    When the downtime window opens, taking the orchestrator and its repository out of reach
    And the orchestrator publishes the deployment "hello-compose"
    Then the agent does not try to reach the orchestrator or its repository during the downtime window
    And the agent fetches the new desired state within its polling interval
