"""JSON Schemas for the documents on the wire, and a validator with readable messages.

Schemas live in ``schemas/`` at the repo root (not in the package) because they are part of
the suite's published contract: vendors read and reuse them directly. Names are relative to
that folder without the suffix, e.g. ``"v24/device-capabilities"``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, ValidationError

from margo_conformance.base.paths import SCHEMA_DIR

SCHEMA_SUFFIX = ".schema.json"

ROOT_PATH = "(root)"


def schema_path(name: str) -> Path:
    return SCHEMA_DIR / f"{name}{SCHEMA_SUFFIX}"


@cache
def load_schema(name: str) -> dict[str, Any]:
    """The parsed schema ``name``. Cached: treat the result as read-only."""
    path = schema_path(name)
    if not path.is_file():
        raise FileNotFoundError(f"no schema {name!r} (looked for {path})")
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return schema


@cache
def _validator(name: str) -> Draft202012Validator:
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    # Format checking is on so "format" keywords count where jsonschema can check them;
    # the schemas still use patterns for anything a verdict depends on, because some
    # formats (uri) are only checked when optional packages are installed.
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def _dotted_path(parts: Iterable[str | int]) -> str:
    return ".".join(str(part) for part in parts)


def _missing_member(error: ValidationError) -> str | None:
    """The member a "required" error is about (jsonschema reports it only in the message)."""
    for name in error.validator_value:
        if name not in error.instance and error.message == f"{name!r} is a required property":
            return str(name)
    return None


def _describe(error: ValidationError) -> str:
    parts = list(error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, dict):
        # Point at the missing member itself, like the "field" of a problem-details error,
        # rather than at the object that lacks it.
        missing = _missing_member(error)
        if missing is not None:
            parts.append(missing)
    return f"{_dotted_path(parts) or ROOT_PATH}: {error.message}"


def validation_errors(document: Any, name: str) -> list[str]:
    """One line per violation of schema ``name``, as ``dotted.path: message``; sorted."""
    return sorted(_describe(error) for error in _validator(name).iter_errors(document))
