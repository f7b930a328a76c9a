"""The device the suite plays against a WOS: its identity and what the WOS gave it.

`SimulatedDevice` keeps the WOS's onboarding answer as it came and reads it member by member
when the device needs one, so an answer of the wrong shape fails the requirement that hands out
that member, in the step that needs it. `WosUnderTest` (wos.py) holds one per role.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from margo_conformance.base import credentials
from margo_conformance.base.errors import StepOrderError
from margo_conformance.base.message_signatures import SigningIdentity
from margo_conformance.checks.shapes import json_document, read_member
from margo_conformance.config.interop import V24Onboarding
from margo_conformance.dialects import V24, Dialect
from margo_conformance.dialects.v24 import ONBOARDING_REQUIREMENTS
from margo_conformance.emulated_device.client import Answer

ONBOARDING_API_VERSION = "onboarding.margo/v1"
TOKEN_ANSWER = "the token answer"

#: The members of an onboarding answer the device reads (`SimulatedDevice.member`); the dialect
#: says where each is and which requirement hands it out.
ONBOARDING_MEMBERS = tuple(ONBOARDING_REQUIREMENTS)


@dataclass
class SimulatedDevice:
    """A device the suite plays: its identity and what the WOS gave it.

    The WOS's answers are kept as they came and read member by member when the device needs
    one (`shapes.read_member`), so an answer of the wrong shape fails the requirement that
    hands out that member, naming it, in the step that needs it.
    """

    device_id: str
    onboarding_key: str
    #: The WOS's 201 answer to the device's onboarding request.
    onboarding_answer: Answer | None = None
    access_token: str | None = None
    #: The profile the device speaks.
    dialect: Dialect = V24
    #: The V24 onboarding exchange the WOS declared (or the suite's default).
    exchange: V24Onboarding = field(default_factory=V24Onboarding)
    #: 1.0: the key and certificate the device onboards and signs with (SEC-011).
    identity: SigningIdentity | None = None

    @property
    def onboarded(self) -> bool:
        return self.onboarding_answer is not None

    def member(self, name: str) -> str:
        """A string member of the onboarding answer (one of ONBOARDING_MEMBERS: client_id,
        client_secret, token_endpoint, repository_url, git_token), or a failed check of the
        requirement that hands it out, naming it."""
        where = self.dialect.answer_member(name, self.exchange)
        document = json_document(self._onboarded().body, requirement=where.requirement, what=where.what,
                                 shape=where.shape)
        return read_member(document, where.pointer, str, requirement=where.requirement, what=where.what,
                           shape=where.shape)

    def declared_credentials(self) -> list[tuple[str, str]]:
        """(kind, value) of the credentials at the members the onboarding exchange declares,
        read without judging (a member missing or of the wrong type is judged where it is used)."""
        if self.onboarding_answer is None:
            return []
        document = self.onboarding_answer.json()
        found = [(kind, pointer_value(document, self.exchange.answer.get(name, ""))) for name, kind in
                 self.dialect.onboarding_credentials]
        return [(kind, value) for kind, value in found if isinstance(value, str)]

    def issued_credentials(self) -> list[tuple[str, str]]:
        """(kind, value) of every credential the WOS under test gave this device."""
        issued = [(credentials.ONBOARDING_KEY, self.onboarding_key), *self.declared_credentials()]
        if self.onboarding_answer is not None:
            issued += credentials.document_credentials(self.onboarding_answer.json())
        return issued + ([(credentials.ACCESS_TOKEN, self.access_token)] if self.access_token else [])

    def _onboarded(self) -> Answer:
        if self.onboarding_answer is None:
            raise StepOrderError("the device has not onboarded: add 'And the device has onboarded'")
        return self.onboarding_answer


def pointer_value(document: object, pointer: str) -> object:
    """The value at a JSON pointer (RFC 6901), or None where there is none."""
    if not pointer.startswith("/"):
        return None
    for token in pointer[1:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(document, dict):
            document = document.get(token)
        elif isinstance(document, list) and token.isdigit() and int(token) < len(document):
            document = document[int(token)]
        else:
            return None
    return document


def access_token_of(answer: Answer) -> str:
    """The bearer token of a 200 token answer (TOK-003), or a failed check naming the member."""
    document = json_document(answer.body, requirement="TOK-003", what=TOKEN_ANSWER)
    return read_member(document, "/access_token", str, requirement="TOK-003", what=TOKEN_ANSWER)
