@agent @V24 @polling
Feature: The agent polls its repository at the interval its owner configured
  The device's owner sets how often the agent checks its desired state (CFG-003), and the
  agent watches its repository at that rate (GIT-003): neither more often, which would load
  the orchestrator more than its owner agreed to, nor less often, which would leave new desired
  state waiting.

  The suite counts one poll each time the agent opens a read of its repository, and measures
  the gaps between consecutive polls once the agent has onboarded. The tolerance, in words: no
  gap may be longer than the configured interval plus the lateness the SUT file allows, and the
  middle gap (the median) must be at least nine tenths of the configured interval. The suite
  configures its usual interval, then three times that, so an agent that ignores the setting cannot
  pass both.

  Background:
    Given the orchestrator expects a new device
    And the device's agent is configured with the orchestrator's address

  @must @req_CFG_003 @req_GIT_003
  Scenario Outline: The polling cadence follows the configured interval
    Given the device's owner sets the polling interval to <interval>
    And the agent has started and onboarded
    Then the agent polls its repository at that interval

    Examples:
      | interval                       |
      | the usual interval             |
      | three times the usual interval |
