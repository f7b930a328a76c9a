"""Reading what a SUT sent: a typed member at a JSON pointer, or a failed check that names it.

Every parser of a SUT's answer (the WOS role) reads through here, so an answer of the wrong
shape (a missing member, a member of the wrong type, an extra level of nesting, a body that is
not JSON or is empty, JSON of the wrong top-level type) fails the requirement the reading
serves, naming the member; it never escapes as a KeyError or TypeError, which would end the
scenario in ERROR and hide what the SUT got wrong.

`member_fault` is the shape judgement alone (what is wrong, or None); `read_member` turns a
fault into a failed check (`checks.expect`); callers that must not judge (the control adapter,
whose faults block a scenario, docs/control-adapter.md) use `member_fault` directly.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, NoReturn, TypeVar, overload

from margo_conformance.checks.expect import CheckFailed, expect

T = TypeVar("T")

#: Where the suite documents a shape the pre-draft leaves open (V24 onboarding is "TBD").
V24_ONBOARDING_SHAPE = ("the suite's documented V24 shape (docs/v24-wire-contract.md section 2; "
                        "the pre-draft leaves it open)")
#: How deep `member_fault` looks for a missing member one or more levels down (extra nesting).
_NESTING_SEARCH_DEPTH = 3


def json_name(value: object) -> str:
    """The JSON type of a parsed value, in JSON's words."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {str: "string", int: "integer", float: "number", bool: "boolean", list: "array", dict: "object",
             type(None): "null"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _is_kind(value: object, kind: type | tuple[type, ...]) -> bool:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        return False  # JSON true is no integer, though Python's bool is an int
    if dict in kinds and isinstance(value, Mapping):
        return True
    return isinstance(value, kinds)


def pointer_tokens(pointer: str) -> list[str]:
    """The reference tokens of an RFC 6901 JSON pointer ("" is the whole document)."""
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise ValueError(f"a JSON pointer starts with '/': {pointer!r}")
    return [token.replace("~1", "/").replace("~0", "~") for token in pointer[1:].split("/")]


def _pointer(tokens: list[str]) -> str:
    return "".join("/" + t.replace("~", "~0").replace("/", "~1") for t in tokens) or "(root)"


def _nested_elsewhere(container: object, name: str, depth: int = _NESTING_SEARCH_DEPTH) -> list[str] | None:
    """The tokens under `container` where a member `name` sits one or more levels down, if any."""
    if depth == 0 or not isinstance(container, Mapping):
        return None
    for key, value in container.items():
        if isinstance(value, Mapping) and name in value:
            return [str(key), name]
        deeper = _nested_elsewhere(value, name, depth - 1)
        if deeper is not None:
            return [str(key), *deeper]
    return None


def _members(container: Mapping[str, Any]) -> str:
    names = sorted(str(k) for k in container)
    shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
    return f"its members are {shown}" if names else "it has no members"


def member_fault(document: Any, pointer: str, kind: type | tuple[type, ...]) -> str | None:
    """What keeps `document` from holding a `kind` at `pointer`, in words; None if it does.

    Only names and JSON types are shown, never values: members of SUT answers are often
    credentials.
    """
    tokens = pointer_tokens(pointer)
    current: Any = document
    for depth, token in enumerate(tokens):
        here = f"{_pointer(tokens[:depth])} is" if depth else "it is"
        if isinstance(current, Mapping):
            if token not in current:
                found = _nested_elsewhere(current, token)
                nested = f"; a member {token!r} sits at {_pointer(tokens[:depth] + found)} instead" if found else ""
                return f"has no member {_pointer(tokens[: depth + 1])} ({_members(current)}){nested}"
            current = current[token]
        elif isinstance(current, list):
            if not token.isdigit() or int(token) >= len(current):
                return f"has no member {_pointer(tokens[: depth + 1])} ({here} an array of {len(current)})"
            current = current[int(token)]
        else:
            container = "an object" if not token.isdigit() else "an array or object"
            return f"cannot hold {_pointer(tokens)}: {here} {_article(json_name(current))}, not {container}"
    if not _is_kind(current, kind):
        if not tokens:
            return f"is {_article(json_name(current))}, not {_article(_kind_name(kind))}"
        return f"has {_pointer(tokens)} as {_article(json_name(current))}, not {_article(_kind_name(kind))}"
    return None


def _article(name: str) -> str:
    return f"an {name}" if name[:1] in "aeiou" else f"a {name}"


def json_document(body: bytes | str | None, *, requirement: str | tuple[str, ...], what: str, shape: str = "") -> Any:
    """The parsed JSON of `body`; a body that is empty or not JSON fails `requirement`."""
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else (body or "")
    if not text.strip():
        _fail(requirement, f"{what} has an empty body where {_expected(shape, 'a JSON document')} is expected",
              "an empty body")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        _fail(requirement, f"{what} is not JSON ({exc.msg} at character {exc.pos}) where "
                           f"{_expected(shape, 'a JSON document')} is expected", f"{len(text)} characters, not JSON")


def _expected(shape: str, default: str) -> str:
    return f"{default}, {shape}," if shape else default


@overload
def read_member(document: Any, pointer: str, kind: type[T], *, requirement: str | tuple[str, ...], what: str,
                shape: str = "") -> T: ...
@overload
def read_member(document: Any, pointer: str, kind: tuple[type, ...], *, requirement: str | tuple[str, ...],
                what: str, shape: str = "") -> Any: ...
def read_member(document: Any, pointer: str, kind: type | tuple[type, ...], *, requirement: str | tuple[str, ...],
                what: str, shape: str = "") -> Any:
    """The `kind` at `pointer` in `document`, or a failed check of `requirement` naming the member.

    `what` names the answer ("the onboarding answer"); `shape` says whose shape it is when the
    spec leaves it open (`V24_ONBOARDING_SHAPE`).
    """
    fault = member_fault(document, pointer, kind)
    if fault is not None:
        where = f" in {shape}" if shape else ""
        _fail(requirement, f"{what} {fault}; {_article(_kind_name(kind))} is expected at {pointer or '(root)'}{where}",
              fault)
    return value_at(document, pointer)


def value_at(document: Any, pointer: str) -> Any:
    """The value at `pointer`, which `member_fault` found there (no check of its own)."""
    current = document
    for token in pointer_tokens(pointer):
        current = current[int(token)] if isinstance(current, list) else current[token]
    return current


def read_object(document: Any, *, requirement: str | tuple[str, ...], what: str, shape: str = "") -> dict[str, Any]:
    """`document` itself as a JSON object, or a failed check (an array, a string, null...)."""
    value: dict[str, Any] = read_member(document, "", dict, requirement=requirement, what=what, shape=shape)
    return value


def _fail(requirement: str | tuple[str, ...], message: str, observed: Any) -> NoReturn:
    expect(requirement, False, message, observed=observed)
    raise AssertionError("unreachable: expect raises")  # pragma: no cover


__all__ = [
    "CheckFailed",
    "V24_ONBOARDING_SHAPE",
    "json_document",
    "json_name",
    "member_fault",
    "pointer_tokens",
    "read_member",
    "read_object",
    "value_at",
]
