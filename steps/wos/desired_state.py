"""WOS desired-state vocabulary: deploying, removing and reading the device's repository."""

from __future__ import annotations

import re

from pytest_bdd import given, parsers, then, when

from margo_conformance.base.errors import StepOrderError
from margo_conformance.base.schemas import validation_errors
from margo_conformance.checks.expect import expect
from margo_conformance.scenario.wos import WosUnderTest
from margo_conformance.scenario.wos_documents import application_request

UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
ANNOTATION_PATHS = ("metadata.annotations.id:", "metadata.annotations.applicationId:")


@given(parsers.parse('the operator has deployed the application "{application}" to the device'))
@when(parsers.parse('the operator deploys the application "{application}" to the device'))
def the_operator_deploys_the_application_to_the_device(wos: WosUnderTest, application: str) -> None:
    wos.deploy(application)


@when("the operator removes that deployment")
def the_operator_removes_that_deployment(wos: WosUnderTest) -> None:
    (application,) = wos.deployments
    wos.remove(application)


@when("someone reads the device's repository without an access token")
def someone_reads_the_devices_repository_without_an_access_token(wos: WosUnderTest) -> None:
    wos.read_repository(as_role=None)


@when("the other device reads the device's repository with its own access token")
def the_other_device_reads_the_devices_repository_with_its_own_access_token(wos: WosUnderTest) -> None:
    wos.read_repository(role="device", as_role="other")


@then("the repository refuses to be read")
def the_repository_refuses_to_be_read(wos: WosUnderTest) -> None:
    read = wos.last_read
    if read is None:
        raise StepOrderError("no repository was read: add 'When someone reads the device's repository ...'")
    expect(
        "GIT-006",
        not read.ok,
        "the device's repository must not be readable without the device's own access token; it was, and held "
        + (", ".join(sorted(read.documents)) or "no YAML files"),
    )


def _documents_for(wos: WosUnderTest, deployment_id: str) -> dict[str, object]:
    read = wos.read_repository()
    expect("GIT-001", read.ok, f"the device must be able to read its repository with its token; {read.detail}")
    return {path: doc for path, doc in read.documents.items() if _deployment_id(doc) == deployment_id}


@then("the device's repository holds one ApplicationDeployment for that deployment")
def the_devices_repository_holds_one_applicationdeployment_for_that_deployment(wos: WosUnderTest) -> None:
    (application,) = wos.deployments
    deployment_id = wos.deployment_id(application)
    matching = _documents_for(wos, deployment_id)
    files = sorted(wos.last_read.documents) if wos.last_read else []
    expect(
        ("GIT-001", "GIT-002"),
        len(matching) == 1,
        f"expected one document with id {deployment_id} in the device's repository, "
        f"found {len(matching)}; files: {files}",
    )


@then("the deployment document is valid and carries the application as deployed")
def the_deployment_document_is_valid_and_carries_the_application_as_deployed(wos: WosUnderTest) -> None:
    (application,) = wos.deployments
    (document,) = _documents_for(wos, wos.deployment_id(application)).values()
    annotations = _annotation_problems(document, application)
    expect("GIT-009", not annotations, "the deployment's annotations: " + "; ".join(annotations))
    problems = _document_problems(document, application)
    expect("GIT-008", not problems, "the ApplicationDeployment as deployed: " + "; ".join(problems))


def _annotation_problems(document: object, application: str) -> list[str]:
    """GIT-009: a WOS-assigned UUID as the id, and the id of the application deployed."""
    annotations = _annotations(document)
    deployment_id, application_id = annotations.get("id"), annotations.get("applicationId")
    requested = application_request(application)["applicationId"]
    problems = []
    if not (isinstance(deployment_id, str) and UUID.fullmatch(deployment_id)):
        problems.append(f"metadata.annotations.id is {deployment_id!r}, not a UUID")
    if application_id != requested:
        problems.append(f"metadata.annotations.applicationId is {application_id!r}, "
                        f"not {requested!r}, the application deployed")
    return problems


def _document_problems(document: object, application: str) -> list[str]:
    """GIT-008: every member the ApplicationDeployment table requires, and the application's own."""
    errors = validation_errors(document, "v24/application-deployment")
    # The annotations' formats are GIT-009's, reported above.
    problems = [e for e in errors if not e.startswith(ANNOTATION_PATHS)]
    if problems or not isinstance(document, dict):
        return problems
    requested = application_request(application)
    for member in ("deploymentProfile", "parameters"):
        if document["spec"][member] != requested[member]:
            problems.append(f"spec.{member} differs from the application deployed: "
                            f"{document['spec'][member]!r}")
    return problems


@then("the device's repository no longer holds that deployment")
def the_devices_repository_no_longer_holds_that_deployment(wos: WosUnderTest) -> None:
    (application,) = wos.deployments
    remaining = _documents_for(wos, wos.deployment_id(application))
    expect("GIT-002", not remaining, f"the removed deployment must leave the repository; it is still in "
           f"{sorted(remaining)}")


def _annotations(document: object) -> dict[str, object]:
    metadata = document.get("metadata") if isinstance(document, dict) else None
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    return annotations if isinstance(annotations, dict) else {}


def _deployment_id(document: object) -> object:
    return _annotations(document).get("id")
