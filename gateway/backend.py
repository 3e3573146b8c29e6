"""The backend client: one pooled keep-alive session to the server behind the gateway.

Every way a backend can fail (refused, silent past `backend.timeout`, closed or cut
off mid-answer, HTML, garbage, an answer to another call) becomes one
`BackendUnavailable` whose text is safe to show a caller: what went wrong, never
the backend's address or its body. The details go to the `rcgate` log. A call is
sent once: never retried, as it may be a write.
"""
from __future__ import annotations

import errno
import itertools
import logging
from dataclasses import dataclass
from typing import Any

import aiohttp
from yarl import URL

from . import jsoncodec
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
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.max_connections = max_connections
        self._ids = itertools.count(1)
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=self.max_connections, keepalive_timeout=30)
        self._session = aiohttp.ClientSession(connector=connector, timeout=self.timeout)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def call(self, method: str, args: dict[str, Any], key: str) -> BackendAnswer:
        """Send one call in the backend's dialect. Never retried: the call may be a write."""
        assert self._session is not None, "Backend.start() was not awaited"
        call_id = next(self._ids)
        body = {"id": call_id, self.dialect.envelope.send_key_as: key, "method": method, "args": args}
        payload = jsoncodec.dumps_compact(body)
        try:
            async with self._session.post(
                self.api_url, data=payload, headers={"Content-Type": "application/json"}
            ) as response:
                raw = await response.read()
                status = response.status
        except TimeoutError:
            raise self._fault(f"no answer within {self.timeout.total:g} s", method) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise self._fault(_describe(exc), method, exc) from None
        try:
            return _parse_answer(raw, status, call_id)
        except BackendUnavailable as exc:
            raise self._fault(str(exc), method) from None

    def _fault(self, reason: str, method: str, exc: BaseException | None = None) -> BackendUnavailable:
        """Log the fault for the operator (address, exception type; no key, no body) and return it."""
        detail = f" ({type(exc).__name__})" if exc is not None else ""
        log.warning("backend %s: %s: %s%s", _where(self.api_url), method, reason, detail)
        return BackendUnavailable(reason)

    async def probe(self) -> tuple[bool, str]:
        """Does the backend answer its API endpoint with JSON-RPC? (no key: it must say so itself)"""
        assert self._session is not None
        try:
            async with self._session.post(self.api_url, data=b"{}", headers={"Content-Type": "application/json"},
                                          timeout=aiohttp.ClientTimeout(total=min(5.0, self.timeout.total or 5.0))) as r:
                raw = await r.read()
        except TimeoutError:
            return False, "no answer in time"
        except (aiohttp.ClientError, OSError) as exc:
            return False, _describe(exc)
        try:
            answer = jsoncodec.loads(raw)
        except (ValueError, RecursionError):
            return False, f"answer is not JSON (HTTP {r.status})"
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


def _describe(exc: BaseException) -> str:
    """What went wrong, in words a caller may read: no address, no internals."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        refused = getattr(exc.os_error, "errno", None) == errno.ECONNREFUSED
        return "connection refused" if refused else "cannot connect"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the connection was closed before the answer was complete"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return "the answer was cut off before it was complete"
    if isinstance(exc, aiohttp.ClientResponseError):
        return "the answer is not valid HTTP"
    if isinstance(exc, (aiohttp.ClientOSError, OSError)):
        return "the connection failed"
    return f"the connection failed ({type(exc).__name__})"


def _short(value: object, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _where(url: str) -> str:
    """host:port of a URL, without any user:password part."""
    parsed = URL(url)
    return f"{parsed.host}:{parsed.port}"
