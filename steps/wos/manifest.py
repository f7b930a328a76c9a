"""WOS state-manifest vocabulary (PR1): fetching, revalidating and checking what is served."""

from __future__ import annotations

from collections.abc import Callable

from pytest_bdd import then, when

from margo_conformance.checks import manifest_rules
from margo_conformance.checks.expect import blocked, expect
from margo_conformance.emulated_device.client import Answer
from margo_conformance.emulated_device.pr1 import (
    application_deployment_problems,
    bundle_problems,
    digest_of,
    document_problems,
    listed_entries,
    listed_ids,
    manifest_document,
    manifest_of,
    manifest_problems,
    manifest_version,
    shown,
)
from margo_conformance.scenario.wos import WosUnderTest
from margo_conformance.scenario.wos_documents import application_request
from margo_conformance.scenario.wos_manifest import fetch_manifest


def _held_etag(wos: WosUnderTest) -> str:
    if not wos.manifests:
        blocked("a state manifest", f"the device holds none to revalidate: its fetch was answered "
                f"{wos.answer().describe()}", requirement="DSA-001")
    return wos.manifests[-1].headers.get("etag", "")


@when("the device fetches its state manifest")
def the_device_fetches_its_state_manifest(wos: WosUnderTest) -> None:
    fetch_manifest(wos)


@when("the device fetches its state manifest again with the entity tag it holds")
def the_device_fetches_its_state_manifest_again_with_the_entity_tag_it_holds(wos: WosUnderTest) -> None:
    fetch_manifest(wos, if_none_match=_held_etag(wos))


@when("the device fetches its state manifest accepting only a web page")
def the_device_fetches_its_state_manifest_accepting_only_a_web_page(wos: WosUnderTest) -> None:
    fetch_manifest(wos, accept="text/html")


@then("the orchestrator serves a valid state manifest")
def the_orchestrator_serves_a_valid_state_manifest(wos: WosUnderTest) -> None:
    problems = manifest_problems(wos.answer())
    expect(
        manifest_rules.requirements_of(problems, "DSA-001"),
        not problems,
        "the state manifest must be served as the profile says; " + "; ".join(problems),
    )


@then("the orchestrator serves a new state manifest")
def the_orchestrator_serves_a_new_state_manifest(wos: WosUnderTest) -> None:
    # Only what this scenario is about: the old tag no longer matches, a manifest comes back.
    # Its headers and schema are the first two scenarios' business.
    answer = wos.answer()
    expect(
        "DSA-003",
        answer.status == 200 and manifest_document(answer) is not None,
        "after the desired state changed, revalidating with the old entity tag must be answered "
        f"200 with the new manifest (a JSON object); got {answer.describe()}",
    )


@then("the manifest lists no deployments and its bundle is null")
def the_manifest_lists_no_deployments_and_its_bundle_is_null(wos: WosUnderTest) -> None:
    document = manifest_document(wos.answer()) or {}
    # `"bundle" in`: an omitted bundle reads as None too, and DSA-008 forbids omitting it.
    empty = document.get("deployments") == [] and "bundle" in document and document["bundle"] is None
    expect(
        "DSA-008",
        empty,
        f"a client with nothing deployed must get deployments [] and a bundle member that is "
        f"null; got {shown(document)}",
    )


@then("the orchestrator answers that nothing changed")
def the_orchestrator_answers_that_nothing_changed(wos: WosUnderTest) -> None:
    answer = wos.answer()
    expect(
        "DSA-003",
        answer.status == 304 and not answer.body,
        f"If-None-Match with the current ETag must get 304 with no body; {answer.describe()}",
    )


@then("the orchestrator answers that it cannot serve that representation")
def the_orchestrator_answers_that_it_cannot_serve_that_representation(wos: WosUnderTest) -> None:
    answer = wos.answer()
    expect("DSA-002", answer.status == 406, f"Accept: text/html must get 406; {answer.describe()}")


def _fetch(wos: WosUnderTest) -> Callable[[str], Answer]:
    return lambda url: wos.request("GET", url)


@then("every document the manifest lists is served at its content address, byte for byte")
def every_document_the_manifest_lists_is_served_at_its_content_address_byte_for_byte(wos: WosUnderTest) -> None:
    problems, _ = document_problems(manifest_of(_latest_manifest(wos)), wos.device().member("client_id"), _fetch(wos))
    expect(
        manifest_rules.requirements_of(problems, "DSA-012"),
        not problems,
        "every listed document must be served at its content address, byte for byte; " + "; ".join(problems),
    )


@then("every listed document is a valid ApplicationDeployment of the application deployed")
def every_listed_document_is_a_valid_application_deployment_of_the_application_deployed(wos: WosUnderTest) -> None:
    (application,) = wos.deployments
    _, served = document_problems(manifest_of(_latest_manifest(wos)), wos.device().member("client_id"), _fetch(wos))
    if not served:
        blocked("a served deployment", "the manifest's documents could not be fetched", requirement="DSA-012")
    application_id = application_request(application)["applicationId"]
    problems = [p for name, body in sorted(served.items())
                for p in application_deployment_problems(name, body, application_id)]
    expect(
        manifest_rules.requirements_of(problems, "DSA-050"),
        not problems,
        "every served ApplicationDeployment must follow the PR1 schema and name the application deployed; "
        + "; ".join(problems),
    )


@then("the bundle holds exactly the listed documents, byte for byte")
def the_bundle_holds_exactly_the_listed_documents_byte_for_byte(wos: WosUnderTest) -> None:
    manifest, client_id = manifest_of(_latest_manifest(wos)), wos.device().member("client_id")
    _, served = document_problems(manifest, client_id, _fetch(wos))
    problems = bundle_problems(manifest, client_id, served, _fetch(wos))
    expect(
        manifest_rules.requirements_of(problems, "DSA-014"),
        not problems,
        "the bundle must hold exactly the listed documents, byte for byte; " + "; ".join(problems),
    )


def _latest_manifest(wos: WosUnderTest) -> Answer:
    if not wos.manifests:
        blocked("a state manifest", f"the device's fetch was answered {wos.answer().describe()}",
                requirement="DSA-001")
    return wos.manifests[-1]


def _version_step(wos: WosUnderTest, listed: bool) -> None:
    expect(
        "DSA-003",
        len(wos.manifests) >= 2,
        f"after the change the device must get the new manifest (200), got {wos.answer().describe()}",
    )
    expect(
        "DSA-003",
        wos.answer().status == 200,
        f"revalidating with the ETag of the old manifest must return the changed one; {wos.answer().describe()}",
    )
    before, after = manifest_version(wos.manifests[-2]), manifest_version(wos.manifests[-1])
    expect(
        "DSA-007",
        after > before,
        f"manifestVersion must strictly increase when the desired state changes: {before} -> {after}",
    )
    (application,) = wos.deployments
    deployment_id = wos.deployment_id(application)
    present = deployment_id in listed_ids(wos.manifests[-1])
    # Not listed under the id the operator's deployment got: its entry's deploymentId is wrong or
    # missing (DSA-010); still listed after its removal: the desired state was not updated (DSA-036).
    expect(
        "DSA-010" if listed else "DSA-036",
        present == listed,
        f"the manifest must {'list' if listed else 'no longer list'} deployment {deployment_id}; it "
        f"{'does not' if listed else 'still does'}",
    )


@then("the manifest version increased and the manifest lists the deployment")
def the_manifest_version_increased_and_the_manifest_lists_the_deployment(wos: WosUnderTest) -> None:
    _version_step(wos, listed=True)


@then("the manifest version increased and the manifest no longer lists the deployment")
def the_manifest_version_increased_and_the_manifest_no_longer_lists_the_deployment(wos: WosUnderTest) -> None:
    _version_step(wos, listed=False)


@when("the device fetches the listed deployment at a digest it was never given")
def the_device_fetches_the_listed_deployment_at_a_digest_it_was_never_given(wos: WosUnderTest) -> None:
    entries = listed_entries(manifest_of(_latest_manifest(wos)))
    if not entries:
        blocked("a listed deployment", "the manifest lists none after the operator deployed one",
                requirement="DSA-010")
    url, digest = entries[0]["url"], entries[0]["digest"]
    # A well-formed digest of bytes the orchestrator never served, in place of the listed one.
    wos.send("GET", url.replace(digest, digest_of(b"never served by the orchestrator")), ("DSA-013",))


@then("the orchestrator answers that there is no such deployment")
def the_orchestrator_answers_that_there_is_no_such_deployment(wos: WosUnderTest) -> None:
    answer = wos.answer()
    expect("DSA-013", answer.status == 404,
           f"a deployment asked for at a digest it does not have must be answered 404; {answer.describe()}")
