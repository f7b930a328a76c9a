"""Checks of an ApplicationDeployment the agent needs before applying it, shared by both profiles.

V24 (gitops.validate_document) and PR1 (pr1.manifest.validate_document) differ only in where
the id lives; the metadata, component and parameter rules are the same, so they are here once.
"""

from __future__ import annotations

import re
from typing import Any

UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
APPLICATION_ID = re.compile(r"^[a-z0-9-]{1,200}$")


class Problems(list[str]):
    """The problems found so far, with the two checks every rule is built from."""

    def text(self, value: Any, where: str, pattern: re.Pattern[str] | None = None) -> None:
        if not isinstance(value, str) or not value:
            self.append(f"{where} must be a non-empty string")
        elif pattern is not None and not pattern.match(value):
            self.append(f"{where} {value!r} does not match {pattern.pattern}")

    def mapping(self, value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.append(f"{where} must be a map")
            return {}
        return value


def check_metadata(problems: Problems, document: dict[str, Any]) -> dict[str, Any]:
    """apiVersion, metadata.{annotations.applicationId, name, namespace}; returns the annotations."""
    problems.text(document.get("apiVersion"), "apiVersion")
    metadata = problems.mapping(document.get("metadata"), "metadata")
    annotations = problems.mapping(metadata.get("annotations"), "metadata.annotations")
    problems.text(annotations.get("applicationId"), "metadata.annotations.applicationId", APPLICATION_ID)
    problems.text(metadata.get("name"), "metadata.name")
    problems.text(metadata.get("namespace"), "metadata.namespace")
    return annotations


def check_spec(problems: Problems, document: dict[str, Any]) -> None:
    """The deployment profile's components and the parameters that target them (DSA-052)."""
    spec = problems.mapping(document.get("spec"), "spec")
    profile = problems.mapping(spec.get("deploymentProfile"), "spec.deploymentProfile")
    problems.text(profile.get("type"), "spec.deploymentProfile.type")
    components = profile.get("components")
    if not isinstance(components, list) or not components:
        problems.append("spec.deploymentProfile.components must list at least one component")
        components = []
    names = set()
    for index, component in enumerate(components):
        where = f"spec.deploymentProfile.components[{index}]"
        component = problems.mapping(component, where)
        problems.text(component.get("name"), f"{where}.name")
        problems.mapping(component.get("properties"), f"{where}.properties")
        names.add(component.get("name"))
    if "parameters" not in spec:
        problems.append("spec.parameters is required")
    for name, parameter in problems.mapping(spec.get("parameters", {}), "spec.parameters").items():
        _check_parameter(problems, f"spec.parameters.{name}", parameter, names)


def _check_parameter(problems: Problems, where: str, parameter: Any, components: set[Any]) -> None:
    parameter = problems.mapping(parameter, where)
    if parameter.get("value") is None:
        problems.append(f"{where}.value is required")
    targets = parameter.get("targets")
    if not isinstance(targets, list) or not targets:
        problems.append(f"{where}.targets must list at least one target")
        return
    for index, target in enumerate(targets):
        target = problems.mapping(target, f"{where}.targets[{index}]")
        problems.text(target.get("pointer"), f"{where}.targets[{index}].pointer")
        listed = target.get("components")
        if not isinstance(listed, list) or not listed or not all(isinstance(n, str) and n for n in listed):
            problems.append(f"{where}.targets[{index}].components must list component names")
        elif set(listed) - components:
            problems.append(f"{where}.targets[{index}] names unknown components {sorted(set(listed) - components)}")
