@wos @V24 @robustness
Feature: Bad requests are refused and the orchestrator keeps serving
  A device may send the orchestrator a request it cannot accept: a body that is not JSON, a
  document of the wrong kind or apiVersion, a field of the wrong type, a missing field, a
  device or deployment the orchestrator does not know, a body far larger than any Margo
  document. The orchestrator refuses each one, never takes it for a valid request, and goes on
  serving: the valid request that follows succeeds.

  Each scenario takes the device through every request it sends the orchestrator: its
  onboarding request, its token request, a capabilities report and a status report, with
  the bad request before the valid one at each. A kind of bad request that cannot apply to a
  request is not sent there: a token request is a form, so it has no apiVersion and no
  typed fields; a body that is not a form takes the place of a body that is not JSON, and a
  grant of another kind the place of a document of another kind.

  V24 says only that failures are answered with a 4xx or 5xx status (ERR-001); it defines no
  error body and sets no size limit. So these checks are advisory, reported and never failing
  the orchestrator (docs/v24-wire-contract.md, section 8): a bad request is the device's fault
  and is best answered with a 4xx rather than a 5xx; a body larger than a megabyte is best
  refused (413 fits); and a refusal best carries an RFC 9457 problem body, or at the token
  endpoint an OAuth error body. Where the pre-draft gives no ground at all, whatever the
  orchestrator answers is advisory: the onboarding request, whose body the pre-draft leaves
  open, an apiVersion the pre-draft spells differently on every page, and a body of any size.

  Background:
    Given the orchestrator has a device registered by its owner

  @must @req_ERR_001 @req_ONB_003 @req_TOK_003 @req_CAP_002 @req_CAP_003 @req_STS_002 @req_STS_003
  Scenario Outline: A bad request is refused and the orchestrator keeps serving
    When the device sends <bad request> before each of its requests
    Then the orchestrator refuses every bad request
    And each refusal is a client error, as the suite advises
    And the valid request after each refusal succeeds

    Examples:
      | bad request                                                         |
      | a body that is not JSON                                             |
      | a document of the wrong kind                                        |
      | a document of the wrong apiVersion                                  |
      | a document with a field of the wrong type                           |
      | a document without a required field                                 |
      | a request for a device or deployment the orchestrator does not know |
      | a body larger than a megabyte                                       |

  @should @req_ERR_001 @req_ONB_003 @req_TOK_003 @req_CAP_002 @req_STS_002
  Scenario: After every kind of bad request in turn the orchestrator keeps serving, and says what was wrong
    When the device sends every kind of bad request before each of its requests
    Then every refusal carries a problem body that matches its status, as the suite advises
    And the valid request after each refusal succeeds
