"""The backend client: one pooled keep-alive session to the server behind the gateway."""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import aiohttp

from . import jsoncodec
from .mapping.engine import Dialect


class BackendUnavailable(Exception):
    """The backend could not be reached, timed out, or answered something that is not JSON-RPC."""


@dataclass(frozen=True, slots=True)
class BackendAnswer:
    result: Any
    error: Any  # None on success; usually a string


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
            raise BackendUnavailable(f"no answer within {self.timeout.total:g} s") from None
        except aiohttp.ClientError as exc:
            raise BackendUnavailable(_describe(exc)) from None
        return _parse_answer(raw, status, call_id)


    async def probe(self) -> tuple[bool, str]:
        """Does the backend answer its API endpoint with JSON-RPC? (no key: it must say so itself)"""
        assert self._session is not None
        try:
            async with self._session.post(self.api_url, data=b"{}", headers={"Content-Type": "application/json"},
                                          timeout=aiohttp.ClientTimeout(total=min(5.0, self.timeout.total or 5.0))) as r:
                raw = await r.read()
        except TimeoutError:
            return False, "no answer in time"
        except aiohttp.ClientError as exc:
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
        raise BackendUnavailable(f"answer carries id {answer['id']!r}, the call had {call_id}")
    return BackendAnswer(answer.get("result"), answer.get("error"))


def _describe(exc: aiohttp.ClientError) -> str:
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect to {exc.host}:{exc.port}"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the connection was closed before the answer was complete"
    return type(exc).__name__
