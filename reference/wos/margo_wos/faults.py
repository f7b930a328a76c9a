"""Fault switches: each one breaks exactly one requirement, so the suite can show it notices.

The V24 switches act on the V24 routes and documents only, the PR1 ones (those described as
"PR1:") on the PR1 state manifest and what it references only.

All are off unless named in MARGO_WOS_FAULTS. Code asks `"status-500" in faults`; asking
for a name that is not declared here is a programming error, caught by the assert.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

KNOWN_FAULTS: dict[str, str] = {
    "accept-capabilities-without-serial": "capabilities without serial number accepted (CAP-003)",
    "bundle-extra-member": "PR1: the bundle holds one YAML the manifest does not list (DSA-014)",
    "bundle-omitted-when-empty": (
        "PR1: a manifest listing no deployments has no bundle member instead of a null one "
        "(DSA-008)"
    ),
    "bundle-wrong-media-type": (
        "PR1: the manifest gives the bundle mediaType application/gzip (DSA-009)"
    ),
    "capabilities-cross-device": (
        "capabilities accepted with another device's access token (TOK-005)"
    ),
    "crash-on-malformed-json": "a body that is not JSON gets 500 instead of 400 (ERR-001)",
    "deployment-id-mismatch": (
        "PR1: each deployment is listed (and served) under a deploymentId other than its "
        "document's id (DSA-010)"
    ),
    "application-id-uppercase": (
        "V24: committed documents name their application in upper case, not as the package "
        "does (GIT-009)"
    ),
    "digest-mismatch": (
        "PR1: every listed deployment digest differs from the bytes served at its URL (DSA-012)"
    ),
    "digest-uppercase": (
        "PR1: listed digests, and so their URLs and ETags, use upper-case hex (DSA-011)"
    ),
    "document-without-namespace": (
        "V24: deployment documents are committed without metadata.namespace (GIT-008)"
    ),
    "etag-stale": (
        "PR1: the manifest ETag stays that of the first manifest served, so a revalidating "
        "client gets 304 after a change (DSA-003, DSA-004)"
    ),
    "ignore-accept": "PR1: the manifest is served whatever Accept says, never 406 (DSA-002)",
    "manifest-cache-immutable": (
        "PR1: the manifest is served Cache-Control: public, max-age=31536000, immutable (DSA-006)"
    ),
    "manifest-plain-json": "PR1: the manifest is served as application/json (DSA-001)",
    "manifest-version-stuck": (
        "PR1: manifestVersion stays at its first served value after changes (DSA-007)"
    ),
    "no-problem-body": "device API refusals carry a bare text reason, no problem body (ERR-001)",
    "oversized-500": "a body over the size limit gets 500 instead of 413 (ERR-001)",
    "pr1-capabilities-without-serial": (
        "PR1: capabilities without properties.serialNumber are accepted (CAP-010)"
    ),
    "pr1-crash-on-malformed-json": (
        "PR1: a body that is not JSON gets 500 instead of 400 on onboarding, capabilities and "
        "status (ONB-012, CAP-010, STS-020)"
    ),
    "pr1-onboarding-answers-200": "PR1: a successful onboarding is answered 200, not 201 (ONB-011)",
    "pr1-onboarding-refusal-without-error": (
        "PR1: onboarding refusals carry no error member (ERR-002)"
    ),
    "pr1-reject-capability-extensions": (
        "PR1: capabilities carrying an x-...-extensions member are refused with 422 (CAP-017)"
    ),
    "pr1-reused-client-id": "PR1: every client is given the first client's clientId (ONB-013)",
    "pr1-root-certificate-raw-pem": (
        "PR1: the root certificate is served as raw PEM text, not Base64 (CRT-010)"
    ),
    "pr1-accept-unsigned": "PR1: requests without a signature are accepted (SEC-012)",
    "pr1-ignore-created": (
        "PR1: a signature is accepted however long ago or far ahead it was created (SEC-013)"
    ),
    "pr1-ignore-digest": (
        "PR1: a request body is accepted without a Content-Digest or with one that does not "
        "match (SEC-014)"
    ),
    "pr1-only-ecdsa-p256": (
        "PR1: only ecdsa-p256-sha256 signatures verify; the other PR1 algorithms are refused "
        "(SEC-016)"
    ),
    "pr1-signature-not-verified": (
        "PR1: a signature's time window and digest are checked but not its value, so any key "
        "passes (SEC-012)"
    ),
    "pr1-application-id-uppercase": (
        "PR1: served ApplicationDeployments name their application in upper case (DSA-051)"
    ),
    "pr1-deployment-without-kind": "PR1: served ApplicationDeployments have no kind (DSA-050)",
    "pr1-parameter-without-targets": (
        "PR1: served ApplicationDeployments' parameters have no targets (DSA-052)"
    ),
    "pr1-any-digest-served": (
        "PR1: a deployment is served at any digest, not only at its own (DSA-013)"
    ),
    "pr1-status-any-state": "PR1: status reports with undefined states are accepted (STS-020)",
    "pr1-status-not-shown": (
        "PR1: status reports are accepted but never shown to the operator (STS-010)"
    ),
    "refusal-locks-device": (
        "a refused report leaves the device busy: its next report gets 503 (CAP-002, STS-002)"
    ),
    "repository-unreachable": (
        "V24: the repository handed out at onboarding answers 404, even to its device's "
        "token (GIT-001)"
    ),
    "shared-repositories": "any device's git token reads any device's repository (GIT-006)",
    "status-500": "the status endpoint answers 500 to every valid report (STS-002)",
    "status-any-state": "status reports with states V24 does not define are accepted (STS-004)",
    "status-crosstalk": (
        "status reports arriving together are filed under the wrong device (STS-002)"
    ),
    "status-hang": "the status endpoint never answers a valid report (STS-002)",
    "token-accepts-bad-secret": "the token endpoint ignores the client secret (TOK-003, TOK-005)",
    "weak-etag": "PR1: the manifest ETag is weak, W/\"sha256:...\" (DSA-004)",
}


#: With MARGO_FAULT_POINTS=1 (the suite's kill matrix sets it on the reference run) the first
#: time the code asks about a switch is said on stdout, switch on or off. A scenario that never
#: reaches a switch behaves the same with it on, so the matrix runs each mutant only in the
#: scenarios that reach its switch.
FAULT_POINT_LINE = "fault point reached: "
_REPORT_POINTS = os.environ.get("MARGO_FAULT_POINTS") == "1"
_reached: set[str] = set()


def reached(name: str) -> None:
    if _REPORT_POINTS and name not in _reached:
        _reached.add(name)
        print(f"{FAULT_POINT_LINE}{name}", flush=True)


@dataclass(frozen=True)
class Faults:
    active: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, text: str) -> Faults:
        names = frozenset(name.strip() for name in text.split(",") if name.strip())
        unknown = sorted(names - KNOWN_FAULTS.keys())
        if unknown:
            known = ", ".join(sorted(KNOWN_FAULTS))
            raise ValueError(f"unknown fault switch(es) {', '.join(unknown)}; known: {known}")
        return cls(names)

    def __contains__(self, name: object) -> bool:
        assert isinstance(name, str) and name in KNOWN_FAULTS, f"undeclared fault switch {name!r}"
        reached(name)
        return name in self.active
