"""The JSON-RPC envelope: bytes in, a call out; a result or error in, bytes out.

Parsing is dialect-independent up to a JSON object; from there each dialect's
`envelope:` settings decide which fields are required, in which order they are
checked, and what `id` an error carries. Every failure is an `RpcError`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import jsoncodec
from .audit import DEFAULT_SECRET_FIELDS, redact
from .errors import RpcError
from .mapping.engine import Dialect


@dataclass(slots=True)
class Call:
    id: Any
    key: str
    method: str
    args: dict[str, Any]


DEFAULT_MAX_DEPTH = 64


def decode(body: bytes, max_depth: int = DEFAULT_MAX_DEPTH) -> dict[str, Any]:
    """Parse a request body into a JSON object, or raise the matching RpcError.

    Arrays and objects may nest `max_depth` levels (the body itself is level 1);
    deeper bodies are refused with `too_deep`, whether the parser gave up on them
    or the depth is found after parsing (only when there are enough brackets).
    """
    if not body:
        raise RpcError("empty_body", echo_id=False)
    try:
        payload = jsoncodec.loads(body)
    except RecursionError:
        raise RpcError("too_deep", echo_id=False, limit=max_depth) from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise RpcError("parse_error", echo_id=False, reason=str(exc), **_raw_params(body)) from None
    if jsoncodec.may_nest_deeper(body, max_depth) and jsoncodec.depth_exceeds(payload, max_depth):
        raise RpcError("too_deep", echo_id=False, limit=max_depth)
    if not isinstance(payload, dict):
        raise RpcError("not_an_object", echo_id=False, **_raw_params(body))
    return payload


def _raw_params(body: bytes) -> dict[str, str]:
    # The texts of real servers quote the body back; audit redacts these two params.
    return {"raw_bytes": repr(body), "raw_text": repr(body.decode("utf-8", "replace"))}


SECRET_PARAMS = ("raw_bytes", "raw_text")


def read_call(payload: dict[str, Any], dialect: Dialect) -> Call:
    """Check the top-level fields in the dialect's order and return the call."""
    env = dialect.envelope
    request_id = payload.get("id")
    key = None
    for name in env.key_fields:
        if payload.get(name):
            key = payload[name]
            break
    if key is None:
        if env.empty_key == "missing" or not any(name in payload for name in env.key_fields):
            raise RpcError("missing_key", echo_id=env.id_when_key_missing == "echo")
    for name in env.required:
        if name not in payload:
            raise RpcError("missing_field", field=name, echo_id=name not in ("id",))
    if not isinstance(key, str) or not key:
        raise RpcError("invalid_key")  # never forwarded: a call without a usable key stays here
    method = payload["method"]
    if not isinstance(method, str):  # the servers stumble on it, each in its own words; quoted back redacted
        shown = redact(method, DEFAULT_SECRET_FIELDS)
        raise RpcError("method_not_string", pytype=_PY_TYPES.get(type(method), type(method).__name__),
                       pyrepr=py2_str(shown))
    if method.startswith("_"):
        raise RpcError("method_not_allowed", method=method)
    args = payload["args"]
    return Call(request_id, key, method, args if isinstance(args, dict) else {})


_PY_TYPES = {type(None): "NoneType"}


def py2_str(value: Any) -> str:
    """`str(value)` as Python 2 prints a parsed JSON value (RhodeCode 4.x quotes a bad method so)."""
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return str(value)
    return _py2_repr(value)  # a container prints its items' repr (a dict's order was Python 2's hash order)


def _py2_repr(value: Any) -> str:
    if isinstance(value, str):
        return "u" + ascii(value)  # Python 2 parses JSON strings as unicode: u'...', non-ASCII escaped
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int):
        return repr(value) + ("L" if not -2**63 <= value < 2**63 else "")  # a long, inside a container
    if isinstance(value, list):
        return "[" + ", ".join(_py2_repr(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_py2_repr(k)}: {_py2_repr(v)}" for k, v in value.items()) + "}"
    return repr(value)


_USUAL_ORDER = ("id", "result", "error")
_ERROR_FIRST = ("error", "id", "result")  # Python 2 servers' order (RhodeCode 1.7, 4.x)
EMPTY_STRING = b'""'


def render(dialect: Dialect, request_id: Any, result: Any = None, error: Any = None,
           extra: dict[str, Any] | None = None) -> bytes:
    env = dialect.envelope
    if error is None and not request_id and env.falsy_id_success == "empty_string":
        return EMPTY_STRING  # RhodeCode 4.x builds the envelope only for a truthy id
    if env.key_order == _USUAL_ORDER and not extra:
        body = {"id": request_id, "result": result, "error": error}
    elif env.key_order == _ERROR_FIRST and not extra:
        body = {"error": error, "id": request_id, "result": result}
    else:  # the server's own key order; keys a same-dialect backend added (4.x DEPRECATION_WARNING) follow `error`
        values = {"id": request_id, "result": result, "error": error}
        body = {}
        for key in env.key_order:
            body[key] = values[key]
            if key == "error" and extra:
                body.update(extra)
    if env.layout == "pretty":
        return jsoncodec.dumps_pretty(body)
    return jsoncodec.dumps_compact(body)
