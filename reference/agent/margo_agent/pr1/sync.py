"""One poll of the state manifest and what follows from it (DSA-030..DSA-036).

1. GET the manifest with `Accept: application/vnd.margo.manifest.v1+json` and the held ETag
   in `If-None-Match`; 304 (or the same ETag again) means nothing to do.
2. A manifest whose version is not strictly greater than the last accepted one is refused
   and logged as a security event; the held version and ETag stay (DSA-031).
3. Every listed deployment's YAML is fetched by its url and checked against its digest. One
   mismatch aborts the whole update: nothing is applied or removed, nothing is stored
   (DSA-032). A 404 is not a removal (DSA-035): a deployment already applied with that
   digest is left running; one not yet applied postpones the update to the next poll.
4. Reconcile (DSA-036); only when that succeeded are the version and ETag stored (DSA-034).

The agent keeps no content cache: like a fresh checkout in V24, every accepted manifest is
resolved in full and every byte it uses is verified. The bundle is not used (DSA-037 leaves
the choice to the client); individual YAMLs give per-deployment answers (which one is
missing, which one is corrupt).
"""

from __future__ import annotations

import enum
import logging
from pathlib import Path

from margo_agent.faults import Faults
from margo_agent.gitops import Deployment
from margo_agent.pr1.client import Pr1WosClient
from margo_agent.pr1.manifest import (
    DeploymentRef,
    ManifestCursor,
    ManifestError,
    StateManifest,
    digest_of,
    etag_of,
    parse_deployment,
    parse_manifest,
)
from margo_agent.pr1.reconcile import Pr1Reconciler

log = logging.getLogger(__name__)

#: Prefix of log lines that report a security event (DSA-031: "SHOULD be logged as a
#: security event"; the format of such events is not specified yet).
SECURITY = "security:"


class Outcome(enum.Enum):
    UNCHANGED = "unchanged"  # 304, or the manifest already held
    APPLIED = "applied"  # a new manifest was reconciled and stored
    REFUSED = "refused"  # rollback or an invalid manifest: kept the previous state
    ABORTED = "aborted"  # content missing, mismatching or a removal failed: try next poll
    FAILED = "failed"  # the WOS did not answer usefully: retry with backoff


class ManifestSync:
    def __init__(
        self,
        client: Pr1WosClient,
        reconciler: Pr1Reconciler,
        cursor_file: Path,
        faults: Faults | None = None,
    ) -> None:
        self._client = client
        self._reconciler = reconciler
        self._cursor_file = cursor_file
        self._faults = faults or Faults()
        self.cursor = ManifestCursor.load(cursor_file)
        self._refused_etag: str | None = None

    def poll(self) -> Outcome:
        """One cycle. Raises TransportError when the WOS is unreachable, UnknownClient when it
        does not know the client any more."""
        client_id = self._client.client_id
        if self.cursor.client_id not in (None, client_id):
            log.warning(
                "desired-state: onboarded again as %s; the manifest versions of %s no longer apply",
                client_id,
                self.cursor.client_id,
            )
            self.cursor = ManifestCursor(client_id=client_id)
        etag = None if self._faults.no_etag else self.cursor.etag
        response = self._client.get_manifest(etag)
        if response.status == 304:
            log.info("fetch: manifest unchanged (304 for %s)", etag)
            return Outcome.UNCHANGED
        if response.status != 200:
            log.warning("fetch: manifest not served: %s", response.summary(200))
            return Outcome.FAILED
        served_etag = response.header("etag") or etag_of(response.body)
        if served_etag == self.cursor.etag:
            log.info("fetch: manifest unchanged (ETag %s already accepted)", served_etag)
            return Outcome.UNCHANGED
        try:
            manifest = parse_manifest(response.body, self._faults.accept_unknown_digest_algorithm)
        except ManifestError as exc:
            self._refuse(served_etag, f"invalid manifest, not processed: {exc}")
            return Outcome.REFUSED
        log.info(
            "fetch: manifest version %d with %d deployment(s), ETag %s",
            manifest.version,
            len(manifest.deployments),
            served_etag,
        )
        if manifest.version <= self.cursor.version:
            if not self._faults.accept_rollback:
                self._refuse(
                    served_etag,
                    f"manifest version {manifest.version} is not greater than the accepted "
                    f"version {self.cursor.version}: rollback refused, keeping the current state",
                )
                return Outcome.REFUSED
            log.warning(
                "fault: accept-rollback: accepting manifest version %d after version %d",
                manifest.version,
                self.cursor.version,
            )
        desired = self._fetch_content(manifest)
        if desired is None:
            return Outcome.ABORTED
        if not self._reconciler.reconcile(desired):
            log.warning("reconcile: incomplete, manifest version %d not stored", manifest.version)
            return Outcome.ABORTED
        self.cursor = ManifestCursor(manifest.version, served_etag, client_id)
        self.cursor.save(self._cursor_file)
        self._refused_etag = None
        log.info("desired-state: manifest version %d accepted (ETag %s)", manifest.version, served_etag)
        return Outcome.APPLIED

    def _refuse(self, etag: str, reason: str) -> None:
        """Log a security event, once per manifest served (it comes again every poll)."""
        if etag != self._refused_etag:
            log.error("%s %s", SECURITY, reason)
            self._refused_etag = etag
        else:
            log.info("desired-state: still refusing manifest %s", etag)

    def _fetch_content(self, manifest: StateManifest) -> dict[str, Deployment | None] | None:
        """Each listed deployment's verified content; None for one whose content is not at
        hand but which stays as it is. None overall when the update must be aborted."""
        applied = self._reconciler.applied
        desired: dict[str, Deployment | None] = {}
        for ref in manifest.deployments:
            response = self._client.get_content(ref.url)
            previous = applied.get(ref.deployment_id)
            unchanged = previous is not None and previous.digest == ref.digest
            if response.status == 404:
                if self._faults.remove_on_404:
                    log.warning(
                        "fault: remove-on-404: content of %s answered 404, treating it as removed",
                        ref.deployment_id,
                    )
                    continue
                if unchanged:
                    log.warning(
                        "fetch: content of %s (%s) answered 404; still listed, so it stays as it is",
                        ref.deployment_id,
                        ref.digest,
                    )
                    desired[ref.deployment_id] = None
                    continue
                log.warning(
                    "fetch: content of %s (%s) answered 404; update postponed, nothing changed",
                    ref.deployment_id,
                    ref.digest,
                )
                return None
            if response.status != 200:
                log.warning(
                    "fetch: content of %s not served (%s); update postponed, nothing changed",
                    ref.deployment_id,
                    response.summary(120),
                )
                return None
            if not self._verified(ref, response.body):
                return None
            desired[ref.deployment_id] = self._parse(ref, response.body, unchanged)
        return desired

    def _verified(self, ref: DeploymentRef, body: bytes) -> bool:
        actual = digest_of(body, ref.digest.partition(":")[0])  # sha256, unless a fault let another through
        if actual == ref.digest:
            return True
        if self._faults.ignore_digests:
            log.warning(
                "fault: ignore-digests: content of %s is %s, not %s; using it anyway",
                ref.deployment_id,
                actual,
                ref.digest,
            )
            return True
        log.error(
            "%s content of deployment %s has digest %s, the manifest says %s: update aborted, "
            "keeping the previous state",
            SECURITY,
            ref.deployment_id,
            actual,
            ref.digest,
        )
        return False

    def _parse(self, ref: DeploymentRef, body: bytes, unchanged: bool) -> Deployment | None:
        try:
            return parse_deployment(body, ref, self._faults.reject_deployment_extensions)
        except ValueError as exc:
            # Verified bytes that name no deployment: nothing to install or report; an
            # earlier version of it (if any) stays as it is.
            log.error(
                "desired-state: content of %s is not a usable ApplicationDeployment (%s)%s",
                ref.deployment_id,
                exc,
                "" if not unchanged else "; leaving it as it is",
            )
            return None
