@agent @V24 @status
Feature: The overall state of a deployment follows its components
  A status report carries a state for the deployment as a whole and one for each component.
  The pre-draft derives the first from the others: the overall state is the state of the
  component being worked on until every component is installed (STS-005). So while components
  install in turn the deployment is Installing, and once one of them has failed the deployment
  is Failed, with the error code and message that say why (STS-006). This holds whichever
  component fails, first or last; the components after a failed one may stay Pending.

  The 1.0 drafts instead make the overall state the most severe component state, with a
  precedence list that names one state twice and forgets another (I-8). On the cases tested
  here both rules agree: any failed component makes the deployment Failed, all installed make
  it Installed. The 1.0 rule has its own feature, tested only where its list is unambiguous.

  Background:
    Given the orchestrator expects a new device
    And the device's agent is configured with the orchestrator's address
    And the agent has started and onboarded

  @must @req_STS_005 @req_STS_006 @req_STS_003 @req_GIT_004
  Scenario Outline: A failing component makes the whole deployment Failed
    When the orchestrator publishes the deployment "<deployment>"
    Then the agent reports the deployment "<deployment>" as Failed with an error code and message
    And while any component is not yet installed the overall state is that component's state

    # In each, one of two components has a package that cannot be fetched: the first, or the
    # second once the first is installed.
    Examples:
      | deployment             |
      | first-package-missing  |
      | second-package-missing |

  @must @req_STS_005 @req_STS_001 @req_STS_003 @req_GIT_004
  Scenario: The overall state follows the component being installed
    When the orchestrator publishes the deployment "two-components"
    Then the agent reports the deployment as Pending, then Installing, then Installed
    And while any component is not yet installed the overall state is that component's state
