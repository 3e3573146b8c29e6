"""The error answers of 4.22's JSON-RPC layer."""
from __future__ import annotations

from typing import Any

from . import py2

ACCESS_DENIED = "Access was denied to this resource."


class RpcError(Exception):
    """A JSON-RPC error answer: `error` is a text, or a {field: message} object."""

    def __init__(self, error: Any) -> None:
        super().__init__(error)
        self.error = error


class Forbidden(RpcError):
    """4.22's JSONRPCForbidden: a method the caller's role may not call."""

    def __init__(self) -> None:
        super().__init__(ACCESS_DENIED)


def validation_error(errors: dict[str, str]) -> RpcError:
    """A colander validation failure: the error object, in Python 2 dict order."""
    return RpcError(py2.ordered(errors))


class InternalError(Exception):
    """A crash of the real server (a 4.22 bug the recordings show): answered as
    "Internal server error" with RhodeCode-Exception-* headers. `kind` is the exception
    class the real server reported."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind
