"""A contract write as plain data, so it can be persisted, replayed and sent."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


def _encode(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return {"bytes": bytes(value).hex()}
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**53:
        return {"int": str(value)}  # JSON readers lose precision past 2**53
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if "bytes" in value:
            return bytes.fromhex(value["bytes"])
        if "int" in value:
            return int(value["int"])
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


@dataclass(frozen=True)
class ChainCall:
    """``contract.function(*args)`` sent with ``value`` wei.

    >>> ChainCall("TaskEscrow", "refund", (7,)).to_json()
    '{"args": [7], "context": "", "contract": "TaskEscrow", "function": "refund", "value": 0}'
    """

    contract: str
    function: str
    args: tuple[Any, ...] = ()
    value: int = 0
    context: str = ""

    def to_json(self) -> str:
        return json.dumps(
            {
                "contract": self.contract,
                "function": self.function,
                "args": _encode(list(self.args)),
                "value": _encode(self.value),
                "context": self.context,
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> ChainCall:
        data = json.loads(text)
        return cls(
            contract=data["contract"],
            function=data["function"],
            args=tuple(_decode(data["args"])),
            value=_decode(data["value"]),
            context=data.get("context", ""),
        )
