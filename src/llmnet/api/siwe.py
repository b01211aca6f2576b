"""Sign-In with Ethereum (EIP-4361): the message a requester signs to prove it controls its account.

The message is plain text that a wallet shows as it is, signed with ``personal_sign`` (EIP-191).
:meth:`SiweMessage.text` writes it and :meth:`SiweMessage.parse` reads it back strictly (the
EIP's grammar, an EIP-55 address, RFC 3339 times), so what is checked is exactly what was signed.

    >>> message = SiweMessage(domain="coord.example:8300", address=account.address,  # doctest: +SKIP
    ...     uri="http://coord.example:8300", chain_id=31337, nonce=nonce, issued_at=now)
    >>> signature = sign_digest(siwe_digest(message.text()), account)  # doctest: +SKIP
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from eth_utils.address import is_checksum_address
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from llmnet.errors import InputError
from llmnet.hashing import keccak256

MAX_MESSAGE_BYTES = 4096
_HEADER = " wants you to sign in with your Ethereum account:"
_LINE = r"[^\n]+"
_GRAMMAR = re.compile(
    rf"(?:(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*)://)?(?P<domain>[^\s/?#]+){_HEADER}\n"
    r"(?P<address>0x[0-9a-fA-F]{40})\n\n"
    rf"(?:(?P<statement>{_LINE})\n)?\n"
    rf"URI: (?P<uri>{_LINE})\n"
    r"Version: (?P<version>[0-9]+)\n"
    r"Chain ID: (?P<chain_id>[0-9]{1,20})\n"
    r"Nonce: (?P<nonce>[a-zA-Z0-9]{8,64})\n"
    rf"Issued At: (?P<issued_at>{_LINE})"
    rf"(?:\nExpiration Time: (?P<expiration_time>{_LINE}))?"
    rf"(?:\nNot Before: (?P<not_before>{_LINE}))?"
    r"(?:\nRequest ID: (?P<request_id>[^\n]*))?"
    r"(?:\nResources:(?P<resources>(?:\n- [^\n]+)*))?"
)
_TIMES = ("issued_at", "expiration_time", "not_before")


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _time(text: str, field: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise InputError(f"{field} {text!r} is not an RFC 3339 time with a zone, e.g. 2026-12-07T09:30:00Z")
    return moment


class SiweMessage(BaseModel):
    """The fields of an EIP-4361 message; ``text()`` is what the account signs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    domain: str = Field(min_length=1)  # the authority (host[:port]) asking for the sign-in
    address: str
    statement: str | None = None
    uri: str = Field(min_length=1)
    version: str = "1"
    chain_id: int = Field(ge=1)
    nonce: str = Field(pattern=r"^[a-zA-Z0-9]{8,64}$")
    issued_at: datetime
    expiration_time: datetime | None = None
    not_before: datetime | None = None
    request_id: str | None = None
    resources: tuple[str, ...] = ()
    scheme: str | None = None

    def text(self) -> str:
        lines = [f"{self.scheme + '://' if self.scheme else ''}{self.domain}{_HEADER}", self.address, ""]
        lines += [self.statement, ""] if self.statement else [""]
        lines += [f"URI: {self.uri}", f"Version: {self.version}", f"Chain ID: {self.chain_id}",
                  f"Nonce: {self.nonce}", f"Issued At: {rfc3339(self.issued_at)}"]  # fmt: skip
        for label, moment in (("Expiration Time", self.expiration_time), ("Not Before", self.not_before)):
            if moment is not None:
                lines.append(f"{label}: {rfc3339(moment)}")
        if self.request_id is not None:
            lines.append(f"Request ID: {self.request_id}")
        if self.resources:
            lines += ["Resources:", *(f"- {r}" for r in self.resources)]
        return "\n".join(lines)

    @classmethod
    def parse(cls, text: str) -> SiweMessage:
        """Read a message as the EIP writes it; :class:`InputError` says what does not fit."""
        if len(text.encode()) > MAX_MESSAGE_BYTES:
            raise InputError(f"the sign-in message is over {MAX_MESSAGE_BYTES} bytes")
        found = _GRAMMAR.fullmatch(text)
        if found is None:
            raise InputError(
                "the sign-in message is not an EIP-4361 message: expected '<domain> wants you to sign in with "
                "your Ethereum account:', the address, a statement, then URI, Version, Chain ID, Nonce and "
                "Issued At lines"
            )
        fields = {k: v for k, v in found.groupdict().items() if v is not None}
        if not is_checksum_address(fields["address"]):
            raise InputError(f"address {fields['address']} in the sign-in message is not EIP-55 checksummed")
        if fields["version"] != "1":
            raise InputError(f"sign-in message version {fields['version']} is not supported; use Version: 1")
        for name in _TIMES:
            if name in fields:
                fields[name] = _time(fields[name], name.replace("_", " "))
        fields["resources"] = tuple(line[2:] for line in fields.get("resources", "").split("\n") if line)
        try:
            return cls.model_validate(fields)
        except ValidationError as exc:
            raise InputError(f"the sign-in message does not fit: {exc.errors()[0]['msg']}") from None


def siwe_digest(text: str) -> bytes:
    """The EIP-191 ``personal_sign`` digest of a text message, as wallets sign it."""
    data = text.encode()
    return keccak256(b"\x19Ethereum Signed Message:\n" + str(len(data)).encode() + data)
