"""What the suite does as the agent's orchestrator: the actions of a scenario's Given and When steps.

`OrchestratorActions` expects the device, publishes and removes deployments (valid, broken,
revised, several in one commit, PR1 manifest tricks), refuses repository access and
invalidates access tokens, and takes the orchestrator out of the device's reach (an outage
once the agent reports, a downtime window). Each action records what it did in the
scenario's state (agent_state.py) for the observations to start from.
"""

from __future__ import annotations

import dataclasses
import math
import string
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import yaml

from margo_conformance.base.errors import StepOrderError
from margo_conformance.base.evidence import LINK, NOTE, Event
from margo_conformance.base.exchanges import Operation, is_operation
from margo_conformance.base.paths import FIXTURES_DIR
from margo_conformance.checks import cadence
from margo_conformance.emulated_wos.desired_state import Commit, Deployment, render_deployment
from margo_conformance.emulated_wos.link import DeviceLink
from margo_conformance.emulated_wos.state import DeviceRecord
from margo_conformance.scenario import startup
from margo_conformance.scenario.agent_state import AgentScenario, Published

DEPLOYMENT_FIXTURES = FIXTURES_DIR / "deployments"
#: Deliberately broken desired-state documents, published as they are (never validated).
BROKEN_FIXTURES = DEPLOYMENT_FIXTURES / "broken"
#: New revisions of a deployment: revisions/<deployment>/<revision>.yaml, published under its id.
REVISION_FIXTURES = DEPLOYMENT_FIXTURES / "revisions"
ARTIFACT_FIXTURES = FIXTURES_DIR / "artifacts"
UNPARSEABLE = "not-yaml"


@dataclass
class OrchestratorActions:
    scenario: AgentScenario

    def expect_device(self) -> DeviceRecord:
        scenario = self.scenario
        device = scenario.wos.state.register_device(scenario.evidence)
        # The device reaches the WOS through a link of its own, which the suite can cut.
        link = DeviceLink(("127.0.0.1", scenario.wos.port), scenario.evidence, device.device_id).start()
        device.public_url = f"http://{scenario.wos.sut_host}:{link.port}"
        publisher = scenario.dialect.publisher(device, scenario.workdir / "wos-clone", scenario.evidence)
        scenario.attach_device(device, link, publisher)
        return device

    # -- publishing desired state ----------------------------------------------------------

    def _template_values(self) -> dict[str, str]:
        return {"ARTIFACTS": f"{self.scenario.wos.url_for_sut}/artifacts"}

    def publish(self, name: str, prepare: Callable[[str], None] | None = None) -> Published:
        """Publish a deployment fixture: a valid one (validated first), or, when the name is one
        of fixtures/deployments/broken/, a deliberately broken document exactly as written.
        `prepare` gets the deployment id before the agent can see it (a PR1 test hook's)."""
        scenario = self.scenario
        dialect = scenario.dialect
        broken = dialect.broken_deployments
        if broken is not None and not (dialect.deployments / f"{name}.yaml").is_file() \
                and (broken / f"{name}.yaml").is_file():
            return self.publish_together([name])[name]
        values = self._template_values()
        deployment = render_deployment(dialect.deployments / f"{name}.yaml", values,
                                       dialect.schema("application-deployment"))
        scenario.device.assign(deployment.deployment_id)  # before the agent can see it
        if prepare is not None:
            prepare(deployment.deployment_id)
        published = Published(deployment, scenario.publisher.publish(deployment))
        scenario.published[name] = published
        return published

    def _render(self, name: str) -> tuple[Deployment | None, str]:
        """(the deployment, the text to publish) for a V24 fixture, valid or broken. A document
        that does not parse has no deployment: nothing in it names one."""
        if (DEPLOYMENT_FIXTURES / f"{name}.yaml").is_file():
            deployment = render_deployment(DEPLOYMENT_FIXTURES / f"{name}.yaml", self._template_values())
            return deployment, yaml.safe_dump(dict(deployment.document), sort_keys=False)
        path = BROKEN_FIXTURES / f"{name}.yaml"
        if not path.is_file():
            raise StepOrderError(f"no deployment fixture {name!r} in {DEPLOYMENT_FIXTURES} or {BROKEN_FIXTURES}")
        deployment_id = str(uuid.uuid4())
        text = string.Template(path.read_text()).safe_substitute(
            {**self._template_values(), "DEPLOYMENT_ID": deployment_id})
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError:
            return None, text
        if not isinstance(document, dict):
            return None, text
        return Deployment(name, deployment_id, f"deployments/{name}.yaml", document), text

    def publish_together(self, names: list[str]) -> dict[str, Published]:
        """Several fixtures in one commit (V24): desired state that changes all at once."""
        scenario = self.scenario
        if not scenario.publishes_commits:
            raise StepOrderError("publishing several documents in one commit needs a V24 scenario")
        rendered = {name: self._render(name) for name in names}
        for deployment, _ in rendered.values():
            if deployment is not None:
                scenario.device.assign(deployment.deployment_id)
        commit = scenario.repo.commit_files(
            {f"deployments/{name}.yaml": text for name, (_, text) in rendered.items()},
            "deploy " + ", ".join(names),
        )
        chosen = {name: Published(d, commit) for name, (d, _) in rendered.items() if d is not None}
        scenario.published.update(chosen)
        return chosen

    def publish_beside_unparseable(self, name: str) -> Published:
        """A valid deployment and, in the same commit, a document that is not YAML at all."""
        return self.publish_together([UNPARSEABLE, name])[name]

    def publish_revision(self, name: str, revision: str) -> Published:
        """A new revision of a published deployment: same id and file, changed content (GIT-002)."""
        scenario = self.scenario
        current = scenario.deployment(name)
        template = REVISION_FIXTURES / name / f"{revision}.yaml"
        if not template.is_file():
            raise StepOrderError(f"no revision fixture {template}")
        rendered = render_deployment(template, self._template_values(),
                                     scenario.dialect.schema("application-deployment"),
                                     deployment_id=current.deployment.deployment_id)
        deployment = dataclasses.replace(rendered, name=name, path_in_repo=current.deployment.path_in_repo)
        published = Published(deployment, scenario.publisher.publish(deployment))
        scenario.published[name] = published
        return published

    def remove_deployment(self, name: str) -> Commit:
        scenario = self.scenario
        published = scenario.deployment(name)
        commit = scenario.publisher.remove(published.deployment)
        scenario.removed[name] = commit
        return commit

    # -- PR1 state manifest (test hooks of the emulated WOS) --------------------------------

    def publish_corrupted(self, name: str) -> Published:
        """Publish a deployment whose served bytes (YAML and bundle) do not match its digest."""
        return self.publish(name, self.scenario.desired.corrupted.add)

    def publish_under_unsupported_digest(self, name: str) -> Published:
        """Publish a deployment listed under a sha512 digest, an algorithm 1.0 does not name (DSA-033)."""
        return self.publish(name, self.scenario.desired.unsupported_digests.add)

    def serve_older_manifest_without(self, name: str) -> float:
        """A rollback: the deployment disappears under a manifest version lower than the last."""
        scenario = self.scenario
        deployment_id = scenario.deployment(name).deployment.deployment_id
        desired = scenario.desired
        desired.served_version_override = 1
        desired.deployments.pop(deployment_id, None)
        scenario.evidence.record(NOTE, f"serving an older manifest (v1) without {name}", deployment=deployment_id)
        return time.time()

    def withhold_content(self, name: str) -> None:
        scenario = self.scenario
        deployment_id = scenario.deployment(name).deployment.deployment_id
        scenario.desired.withheld.add(deployment_id)
        scenario.evidence.record(NOTE, f"404 for the content of {name}; still listed", deployment=deployment_id)

    # -- access: the repository and tokens (TOK-001, TOK-004) -------------------------------

    def refuse_repository_access(self) -> float:
        self.scenario.device.git_access_allowed = False
        self.scenario.refused_since = time.time()
        return self.scenario.refused_since

    def allow_repository_access(self) -> None:
        self.scenario.device.git_access_allowed = True

    def invalidate_access_tokens(self, change: str) -> float:
        """The WOS stops accepting the agent's access tokens: `expired` or `revoked`."""
        if change == "expired":
            self.scenario.device.expire_access_tokens()
        else:
            self.scenario.device.revoke_access_tokens()
        self.scenario.tokens_invalidated_at = time.time()
        return self.scenario.tokens_invalidated_at

    # -- outages (CFG-001, CFG-004) ----------------------------------------------------------

    def cut_link_once_reporting(self, published: Published) -> None:
        """Make the orchestrator and its repository unreachable for the device from the moment
        its first status report for this deployment was accepted: the device has the desired
        state, and owes the rest of its reports (its next connection is already refused).

        The outage lasts `cadence.outage_duration` at least, and until one polling interval
        after the device first tried to read its repository during it (so a device that takes
        an unreachable repository for empty desired state shows it while the outage lasts); no
        longer than the shortest outage plus the deployment timeout."""
        deployment_id = published.deployment.deployment_id

        def reporting(events: list[Event]) -> bool:
            return any(is_operation(e, Operation.STATUS_REPORT, "POST", deployment_id=deployment_id)
                       and e.data.get("status") == 201 for e in events)

        def tried_repository(events: list[Event]) -> bool:
            return any(e.kind == LINK and e.data.get("channel") == "git" for e in events)

        scenario = self.scenario
        shortest = cadence.outage_duration(scenario.poll_interval)
        scenario.link.end_when(shortest, tried_repository, shortest + scenario.deadlines.deployment,
                               settle_s=scenario.poll_interval)
        scenario.link.cut_when(reporting, None, f"as soon as the agent began reporting {published.deployment.name}")

    def configure_downtime_window(self) -> tuple[int, int]:
        """A downtime window (CFG-001) that opens once the agent has had time to onboard (as long
        as the slowest start seen so far, see startup.py); the link to the orchestrator is cut
        for exactly that window."""
        scenario = self.scenario
        scenario.before_start("the downtime window")
        opens = math.ceil(time.time() + startup.window_lead())
        closes = opens + math.ceil(cadence.window_duration(scenario.poll_interval))
        scenario.downtime_window = (opens, closes)
        timer = threading.Timer(opens - time.time(), scenario.link.cut,
                                args=("the device's downtime window is open", closes - opens))
        timer.daemon = True
        timer.start()
        scenario.keep_timer(timer)
        return opens, closes
