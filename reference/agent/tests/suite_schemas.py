"""The conformance suite's own JSON Schemas, for cross-checking what the reference agent sends.

They live in the margo-conformance repository (schemas/), not in the agent: run outside the
repository, the tests that need them are skipped and say why.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"


def suite_validator(name: str) -> Any:
    """A Draft 2020-12 validator for schemas/<name>.schema.json (name like "v24/device-capabilities")."""
    jsonschema = pytest.importorskip("jsonschema")
    path = SCHEMAS / f"{name}.schema.json"
    if not path.is_file():
        pytest.skip(f"{path} is not here: the suite's schemas exist only inside the margo-conformance repository")
    return jsonschema.Draft202012Validator(json.loads(path.read_text()))
