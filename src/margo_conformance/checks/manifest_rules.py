"""Which PR1 requirement a problem line about a served state manifest breaks.

The manifest checks of the WOS role (`device/pr1.py`) describe what is wrong in lines that open
with the requirement they break ("DSA-004: ETag ..."), or as schema errors
(`schema: bundle.url: ...`); a check names the rows its lines break, not every manifest row.
"""

from __future__ import annotations

import re

#: A problem line of device/pr1.py opens with the requirement it breaks ("DSA-004: ETag ...").
_PREFIX = re.compile(r"([A-Z]{3}-\d{3}): ")
#: A well-formed digest inside a URL: a URL that fails its pattern and carries a `sha256:` that is
#: not one breaks DSA-011 (digests look the same everywhere), not the URL layout rows.
_URL_DIGEST = re.compile(r"sha256:[0-9a-f]{64}(?![0-9A-Za-z])")


def requirements_of(problems: list[str], default: str) -> tuple[str, ...]:
    """The requirements problem lines name; a schema line (`schema: path: message`) the row its
    path belongs to; `default` for a line that names none (a wrong status) and when there is no
    problem (what the check verified)."""
    found = {requirement_of(p, default) for p in problems}
    return tuple(sorted(found or {default}))


def requirement_of(problem: str, default: str) -> str:
    if m := _PREFIX.match(problem):
        return m.group(1)
    if not problem.startswith("schema: "):
        return default
    path, _, message = problem.removeprefix("schema: ").partition(": ")
    if path.endswith(".url"):
        value = message.split("'")[1] if message.count("'") >= 2 else ""
        if "sha256:" in value and not _URL_DIGEST.search(value):
            return "DSA-011"  # the digest inside the URL is malformed, not the URL's layout
    if path.endswith(".digest"):
        return "DSA-011"
    if path == "bundle":
        return "DSA-008"
    if path.startswith("bundle."):
        return "DSA-009"
    if path.startswith("deployments"):
        return "DSA-010"
    if path.startswith("manifestVersion"):
        return "DSA-007"
    return default
