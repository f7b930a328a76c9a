"""Fault switches: deliberate, opt-in violations of the standard.

The conformance suite turns these on to prove that it notices each violation. They are
all off unless named in MARGO_AGENT_FAULTS. Adding a switch means adding its name to
KNOWN_FAULTS and a predicate to `Faults`; nothing else in the agent parses the names.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

EXIT_AT_START = "exit-at-start"
SKIP_INSTALLING = "skip-installing"
NEVER_FETCH = "never-fetch"
CRASH_ON_BAD_DOCUMENT = "crash-on-bad-document"
NO_ERROR_DETAILS = "no-error-details"
IGNORE_UPDATES = "ignore-updates"
IGNORE_REMOVALS = "ignore-removals"
ONE_DEPLOYMENT_ONLY = "one-deployment-only"
REAPPLY_ALL_ON_CHANGE = "reapply-all-on-change"
FIXED_POLL_INTERVAL = "fixed-poll-interval"
TIGHT_RETRY = "tight-retry"
DROP_OWED_STATUS = "drop-owed-status"
FORGET_WORKLOADS_OFFLINE = "forget-workloads-offline"
IGNORE_DOWNTIME_WINDOW = "ignore-downtime-window"
NO_REAUTH = "no-reauth"
OVERALL_FROM_LAST_COMPONENT = "overall-from-last-component"
NO_CAPABILITIES = "no-capabilities"
CAPABILITIES_AFTER_FIRST_POLL = "capabilities-after-first-poll"
CAPABILITIES_BAD_ROLE = "capabilities-bad-role"
CAPABILITIES_MEMORY_IN_MB = "capabilities-memory-in-mb"
SKIP_ROOT_CA = "skip-root-ca"
READ_UNASSIGNED_REPO = "read-unassigned-repo"
STATUS_WITHOUT_COMPONENTS = "status-without-components"
OMIT_BEARER_TOKEN = "omit-bearer-token"
REFUSED_CAPABILITIES = "refused-capabilities"

KNOWN_FAULTS: frozenset[str] = frozenset(
    {
        EXIT_AT_START,
        SKIP_INSTALLING,
        NEVER_FETCH,
        CRASH_ON_BAD_DOCUMENT,
        NO_ERROR_DETAILS,
        IGNORE_UPDATES,
        IGNORE_REMOVALS,
        ONE_DEPLOYMENT_ONLY,
        REAPPLY_ALL_ON_CHANGE,
        FIXED_POLL_INTERVAL,
        TIGHT_RETRY,
        DROP_OWED_STATUS,
        FORGET_WORKLOADS_OFFLINE,
        IGNORE_DOWNTIME_WINDOW,
        NO_REAUTH,
        OVERALL_FROM_LAST_COMPONENT,
        NO_CAPABILITIES,
        CAPABILITIES_AFTER_FIRST_POLL,
        CAPABILITIES_BAD_ROLE,
        CAPABILITIES_MEMORY_IN_MB,
        SKIP_ROOT_CA,
        READ_UNASSIGNED_REPO,
        STATUS_WITHOUT_COMPONENTS,
        OMIT_BEARER_TOKEN,
        REFUSED_CAPABILITIES,
    }
)

# The PR1 (state manifest) switches live with the PR1 agent, in margo_agent/pr1/faults.py.
from margo_agent.pr1 import faults as pr1_faults  # noqa: E402

KNOWN_FAULTS = KNOWN_FAULTS | pr1_faults.PR1_FAULTS

#: The poll interval the fixed-poll-interval fault uses, whatever is configured.
FIXED_POLL_INTERVAL_S = 1.0
#: The retry delay of the tight-retry fault: effectively no backoff at all.
TIGHT_RETRY_S = 0.01
#: The role the capabilities-bad-role fault reports: a plausible name, but not a V24 role.
BAD_ROLE = "Edge Device"
#: The repository the read-unassigned-repo fault reads beside its own: a guessed shared one.
UNASSIGNED_REPO = "desired-state.git"


def parse_faults(text: str) -> frozenset[str]:
    """Parse a comma separated list; an unknown name is an error, not silently ignored,
    because a mistyped switch would make a "the suite catches it" test pass vacuously."""
    names = frozenset(part.strip() for part in text.split(",") if part.strip())
    unknown = sorted(names - KNOWN_FAULTS)
    if unknown:
        known = ", ".join(sorted(KNOWN_FAULTS))
        raise ValueError(f"unknown fault switch(es) {', '.join(unknown)}; known: {known}")
    return names


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

    def _on(self, name: str) -> bool:
        reached(name)
        return name in self.active

    @property
    def exit_at_start(self) -> bool:
        """Exit with status 3 before doing anything (the device never comes up)."""
        return self._on(EXIT_AT_START)

    @property
    def skip_installing(self) -> bool:
        """Never report the Installing state (violates STS-001/STS-005)."""
        return self._on(SKIP_INSTALLING)

    @property
    def never_fetch(self) -> bool:
        """Onboard and report capabilities but never contact the Git server (GIT-003)."""
        return self._on(NEVER_FETCH)

    @property
    def crash_on_bad_document(self) -> bool:
        """Exit when a desired-state document does not parse or breaks the schema (GIT-004)."""
        return self._on(CRASH_ON_BAD_DOCUMENT)

    @property
    def no_error_details(self) -> bool:
        """Report Failed without the error code and message (STS-006)."""
        return self._on(NO_ERROR_DETAILS)

    @property
    def ignore_updates(self) -> bool:
        """Install a deployment once and ignore every later change to it (GIT-004)."""
        return self._on(IGNORE_UPDATES)

    @property
    def ignore_removals(self) -> bool:
        """Leave the workloads of a removed deployment running (GIT-004)."""
        return self._on(IGNORE_REMOVALS)

    @property
    def one_deployment_only(self) -> bool:
        """Apply only the first deployment of the repository, by file name (GIT-004)."""
        return self._on(ONE_DEPLOYMENT_ONLY)

    @property
    def reapply_all_on_change(self) -> bool:
        """Reinstall every deployment whenever any of them changes (GIT-004)."""
        return self._on(REAPPLY_ALL_ON_CHANGE)

    @property
    def fixed_poll_interval(self) -> bool:
        """Poll every FIXED_POLL_INTERVAL_S whatever interval is configured (CFG-003)."""
        return self._on(FIXED_POLL_INTERVAL)

    @property
    def tight_retry(self) -> bool:
        """Retry a failed request at once, again and again, without backing off (CFG-004)."""
        return self._on(TIGHT_RETRY)

    @property
    def drop_owed_status(self) -> bool:
        """Drop a status report that cannot be delivered instead of keeping it (STS-001)."""
        return self._on(DROP_OWED_STATUS)

    @property
    def forget_workloads_offline(self) -> bool:
        """Treat an unreachable repository as empty desired state: remove everything (CFG-004)."""
        return self._on(FORGET_WORKLOADS_OFFLINE)

    @property
    def ignore_downtime_window(self) -> bool:
        """Keep polling and retrying inside the configured downtime window (CFG-001)."""
        return self._on(IGNORE_DOWNTIME_WINDOW)

    @property
    def no_reauth(self) -> bool:
        """Keep sending an access token the WOS refused instead of getting a new one (TOK-001)."""
        return self._on(NO_REAUTH)

    @property
    def overall_from_last_component(self) -> bool:
        """Report the last component's state as the overall state (STS-005)."""
        return self._on(OVERALL_FROM_LAST_COMPONENT)

    @property
    def no_capabilities(self) -> bool:
        """Onboard and follow the desired state without ever reporting capabilities (CAP-001; V24 and PR1)."""
        return self._on(NO_CAPABILITIES)

    @property
    def capabilities_after_first_poll(self) -> bool:
        """Report capabilities only after reading the desired state, not during onboarding (ONB-005; V24
        and PR1, where they are onboarding's last step)."""
        return self._on(CAPABILITIES_AFTER_FIRST_POLL)

    @property
    def capabilities_bad_role(self) -> bool:
        """Report the role BAD_ROLE, which is none of the three V24 roles (CAP-004)."""
        return self._on(CAPABILITIES_BAD_ROLE)

    @property
    def capabilities_memory_in_mb(self) -> bool:
        """Report memory as a MiB string ("16384Mi") instead of whole GB (CAP-005)."""
        return self._on(CAPABILITIES_MEMORY_IN_MB)

    @property
    def skip_root_ca(self) -> bool:
        """Never download the WOS root CA; keep the default trust (CRT-002)."""
        return self._on(SKIP_ROOT_CA)

    @property
    def read_unassigned_repo(self) -> bool:
        """Also read UNASSIGNED_REPO on the same Git server after each fetch (GIT-005)."""
        return self._on(READ_UNASSIGNED_REPO)

    @property
    def status_without_components(self) -> bool:
        """Send status reports without their components list (V24 STS-003, PR1 STS-012/STS-014)."""
        return self._on(STATUS_WITHOUT_COMPONENTS)

    @property
    def omit_bearer_token(self) -> bool:
        """Obtain access tokens but send capabilities and status without Authorization (TOK-001)."""
        return self._on(OMIT_BEARER_TOKEN)

    @property
    def refused_capabilities(self) -> bool:
        """Report capabilities without the required serialNumber, which a WOS refuses (CAP-003)."""
        return self._on(REFUSED_CAPABILITIES)

    # -- PR1 state manifest (names in margo_agent/pr1/faults.py) ----------------------------

    @property
    def ignore_digests(self) -> bool:
        """Use fetched manifest content without checking its digest (DSA-032)."""
        return self._on(pr1_faults.IGNORE_DIGESTS)

    @property
    def accept_rollback(self) -> bool:
        """Accept a manifest whose version is not greater than the last accepted (DSA-031)."""
        return self._on(pr1_faults.ACCEPT_ROLLBACK)

    @property
    def no_etag(self) -> bool:
        """Never send If-None-Match when polling the state manifest (DSA-030)."""
        return self._on(pr1_faults.NO_ETAG)

    @property
    def remove_on_404(self) -> bool:
        """Treat a 404 for a listed deployment's content as its removal (DSA-035)."""
        return self._on(pr1_faults.REMOVE_ON_404)

    @property
    def keep_unlisted(self) -> bool:
        """Never remove a deployment the manifest no longer lists (DSA-036)."""
        return self._on(pr1_faults.KEEP_UNLISTED)

    @property
    def capitalised_states(self) -> bool:
        """Send PR1 states capitalised, as V24 spells them ("Installed"), not lowercase (STS-013)."""
        return self._on(pr1_faults.CAPITALISED_STATES)

    @property
    def pr1_wrong_client_id(self) -> bool:
        """Address the client routes with the device id instead of the assigned clientId (ONB-015)."""
        return self._on(pr1_faults.WRONG_CLIENT_ID)

    @property
    def pr1_capabilities_without_serial(self) -> bool:
        """Report PR1 capabilities without the required properties.serialNumber (CAP-011)."""
        return self._on(pr1_faults.CAPABILITIES_WITHOUT_SERIAL)

    @property
    def pr1_no_otel_collector(self) -> bool:
        """Report otelCollector: false although the device hosts workloads (CAP-012)."""
        return self._on(pr1_faults.NO_OTEL_COLLECTOR)

    @property
    def reject_deployment_extensions(self) -> bool:
        """Fail a deployment carrying x-<name>-extensions members instead of ignoring them (DSA-039)."""
        return self._on(pr1_faults.REJECT_DEPLOYMENT_EXTENSIONS)

    @property
    def accept_unknown_digest_algorithm(self) -> bool:
        """Process a manifest whose digests use sha512, verifying with it, instead of refusing it (DSA-033)."""
        return self._on(pr1_faults.ACCEPT_UNKNOWN_DIGEST_ALGORITHM)

    @property
    def pr1_sign_nothing(self) -> bool:
        """Send every PR1 request without an RFC 9421 signature (SEC-011, ONB-014)."""
        return self._on(pr1_faults.SIGN_NOTHING)

    @property
    def pr1_unsigned_onboarding(self) -> bool:
        """Send the onboarding request unsigned; sign the rest (ONB-014)."""
        return self._on(pr1_faults.UNSIGNED_ONBOARDING)

    @property
    def pr1_stale_signatures(self) -> bool:
        """Sign requests after onboarding with a `created` an hour in the past (SEC-011)."""
        return self._on(pr1_faults.STALE_SIGNATURES)

    @property
    def pr1_no_content_digest(self) -> bool:
        """Sign requests after onboarding without a Content-Digest of their body (SEC-011)."""
        return self._on(pr1_faults.NO_CONTENT_DIGEST)
