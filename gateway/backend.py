"""The backend client: JSON-RPC calls over a pool of keep-alive connections (`http_client`).

Every way a backend can fail (refused, silent past `backend.timeout`, closed or cut
off mid-answer, HTML, garbage, an answer to another call) becomes one
`BackendUnavailable` whose text is safe to show a caller: what went wrong, never
the backend's address or its body. The details go to the `rcgate` log. A call is
sent once: never retried, as it may be a write.
"""
from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from . import jsoncodec
from .http_client import HttpFault, KeepAliveClient
from .mapping.engine import Dialect

log = logging.getLogger("rcgate")


class BackendUnavailable(Exception):
    """The backend could not be reached, timed out, or answered something that is not JSON-RPC."""


@dataclass(frozen=True, slots=True)
class BackendAnswer:
    result: Any
    error: Any  # None on success; usually a string
    extra: dict[str, Any] | None = None  # other top-level keys (4.x DEPRECATION_WARNING), for a same-dialect caller


class Backend:
    def __init__(self, base_url: str, dialect: Dialect, timeout: float, max_connections: int = 100) -> None:
        self.api_url = base_url.rstrip("/") + "/_admin/api"
        self.dialect = dialect
        self.timeout = timeout
        self.max_connections = max_connections
        self._ids = itertools.count(1)
        self._client: KeepAliveClient | None = None

    async def start(self) -> None:
        self._client = KeepAliveClient(self.api_url, self.max_connections)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()

    async def call(self, method: str, args: dict[str, Any], key: str) -> BackendAnswer:
        """Send one call in the backend's dialect. Never retried: the call may be a write."""
        assert self._client is not None, "Backend.start() was not awaited"
        call_id = next(self._ids)
        body = jsoncodec.dumps_compact({"id": call_id, self.dialect.envelope.send_key_as: key, "method": method,
                                        "args": args})
        if self.dialect.envelope.url_decodes_body:  # the server unquotes the body first: keep `+` and `%` as sent
            body = body.replace(b"%", b"%25").replace(b"+", b"%2B")
        try:
            status, raw = await self._client.post(body, self.timeout)
        except TimeoutError:
            raise self._fault(f"no answer within {self.timeout:g} s", method) from None
        except HttpFault as exc:
            raise self._fault(str(exc), method, exc.detail) from None
        try:
            return _parse_answer(raw, status, call_id)
        except BackendUnavailable as exc:
            raise self._fault(str(exc), method) from None

    def _fault(self, reason: str, method: str, detail: str = "") -> BackendUnavailable:
        """Log the fault for the operator (address, what failed; no key, no body) and return it."""
        client = self._client
        log.warning("backend %s:%s: %s: %s%s", client.host, client.port, method, reason, f" ({detail})" if detail else "")
        return BackendUnavailable(reason)

    async def probe(self) -> tuple[bool, str]:
        """Does the backend answer its API endpoint with JSON-RPC? (no key: it must say so itself)"""
        assert self._client is not None
        try:
            status, raw = await self._client.post(b"{}", min(5.0, self.timeout))
        except TimeoutError:
            return False, "no answer in time"
        except HttpFault as exc:
            return False, str(exc)
        try:
            answer = jsoncodec.loads(raw)
        except (ValueError, RecursionError):
            return False, f"answer is not JSON (HTTP {status})"
        return (True, "answering") if isinstance(answer, dict) and "error" in answer else (False, "not JSON-RPC")


def _parse_answer(raw: bytes, status: int, call_id: int) -> BackendAnswer:
    try:
        answer = jsoncodec.loads(raw)
    except (ValueError, RecursionError):
        raise BackendUnavailable(f"answer is not JSON (HTTP {status}, {len(raw)} bytes)") from None
    if not isinstance(answer, dict) or not ("result" in answer or "error" in answer):
        raise BackendUnavailable(f"answer is not a JSON-RPC response (HTTP {status})")
    if "id" in answer and answer["id"] != call_id:
        raise BackendUnavailable(f"the answer carries id {_short(answer['id'])}, not the call's id {call_id}")
    extra = {k: v for k, v in answer.items() if k not in _ENVELOPE_KEYS} or None
    return BackendAnswer(answer.get("result"), answer.get("error"), extra)


_ENVELOPE_KEYS = frozenset({"id", "result", "error"})


def _short(value: object, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def printable_url(url: str) -> str:
    """The URL as it may appear in a log: a password in it becomes ***."""
    parsed = urlsplit(url)
    if parsed.password is None:
        return url
    netloc = parsed.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return parsed._replace(netloc=f"{user}:***@{netloc[1]}").geturl()
