@wos @PR1 @signing
Feature: Requests signed with the device's certificate
  In the Margo 1.0 preview a device signs each request (RFC 9421) with the key of the
  certificate it onboarded with, over the method, the target URI and a digest of the body.
  The orchestrator verifies every signature with the certificate bound to the client id in
  the path: a request it cannot verify, or signed outside its time window, is refused as not
  signed by the client; one whose body does not match a signed digest is refused as malformed.
  It verifies each of the four algorithms the preview names.

  Background:
    Given the orchestrator has a device registered by its owner

  @must @req_SEC_012
  Scenario Outline: A report whose signature does not hold is refused and changes nothing
    Given the device has onboarded
    When the device reports valid capabilities <signing>
    Then the orchestrator refuses the request as not signed by the client
    And the orchestrator holds no capabilities of the device

    Examples:
      | signing                                            |
      | without a signature                                |
      | with a signature that does not verify              |
      | signed with a key the orchestrator never onboarded |

  @must @req_SEC_012
  Scenario: A state-manifest fetch without a signature is refused
    Given the device has onboarded
    When the device fetches its state manifest without a signature
    Then the orchestrator refuses the request as not signed by the client

  @must @req_SEC_013
  Scenario Outline: A signature made well outside the time window is refused
    Given the device has onboarded
    When the device reports valid capabilities <signing>
    Then the orchestrator refuses the request as not signed by the client

    Examples:
      | signing              |
      | signed an hour ago   |
      | signed an hour ahead |

  @must @req_SEC_014
  Scenario Outline: A body that does not match a signed digest is refused as malformed
    Given the device has onboarded
    When the device reports valid capabilities <signing>
    Then the orchestrator refuses the request as malformed

    Examples:
      | signing                             |
      | with its body changed after signing |
      | signed without a Content-Digest     |

  @must @req_SEC_016
  Scenario Outline: Every algorithm of the preview is verified
    Given the device signs with <algorithm>
    When the device onboards and reports valid capabilities
    Then the orchestrator accepts the onboarding and the capabilities signed with that algorithm

    Examples:
      | algorithm         |
      | ecdsa-p256-sha256 |
      | ecdsa-p384-sha384 |
      | rsa-v1_5-sha256   |
      | rsa-pss-sha256    |
