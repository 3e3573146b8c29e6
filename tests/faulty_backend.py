"""A DELIBERATELY FAULTY JSON-RPC backend, for rcgate's robustness tests only.

`FaultyBackend` is no model of Kallithea or RhodeCode: it is a tiny hand-written
HTTP/1.1 server on 127.0.0.1 (raw asyncio streams, so it can break HTTP itself)
that answers `POST /_admin/api` correctly in mode ``healthy`` and misbehaves on
purpose in every other mode. Switch modes at any time with `backend.mode = ...`;
`stop()` / `start()` (same port) simulate a backend that goes away and comes back.

Modes (`FAULTS` are all but ``healthy``):

    healthy    HTTP 200, ``{"id": <the call's id>, "result": {...}, "error": null}``, at once
    refused    nothing listens on the port (the server is stopped)
    slow       waits `slow_seconds` (longer than the gateway's timeout), then answers
    html500    HTTP 500 with an HTML error page
    garbage    HTTP 200 with random non-JSON bytes
    truncated  HTTP 200, a consistent Content-Length, the JSON answer cut in half
    close_mid  headers promise the whole answer, half of it is sent, the connection is closed
    reset      the request is read, the connection is closed without a byte
    wrong_id   a well-formed JSON-RPC answer that carries another call's id

Every request it reads is counted (`received`, and per JSON-RPC method in `calls`),
kept as `last`, and with `record=True` also listed in `requests` (verb, path,
headers, the JSON body), so tests can check what reached the backend and how
often (writes must never be retried).
"""
from __future__ import annotations

import asyncio
import collections
import json
import os
from dataclasses import dataclass, field
from typing import Any

FAULTS = ("refused", "slow", "html500", "garbage", "truncated", "close_mid", "reset", "wrong_id")
MODES = ("healthy", *FAULTS)

HTML_500 = (b"<!DOCTYPE html><html><head><title>500 Internal Server Error</title></head><body>"
            b"<h1>Internal Server Error</h1><pre>Traceback (most recent call last):\n"
            b"  File \"/srv/backend/secret_internal_path.py\", line 42, in handler\n"
            b"KeyError: 'boom'</pre></body></html>")


@dataclass
class Seen:
    """One request as the faulty backend read it."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any  # parsed JSON, or the raw bytes if it was not JSON


@dataclass
class FaultyBackend:
    mode: str = "healthy"
    slow_seconds: float = 5.0
    record: bool = True  # False for the load test: count only
    host: str = "127.0.0.1"
    port: int = 0
    requests: list[Seen] = field(default_factory=list)
    calls: collections.Counter = field(default_factory=collections.Counter)
    received: int = 0
    answered: int = 0
    last: Seen | None = None
    _server: asyncio.AbstractServer | None = None
    _writers: set = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> "FaultyBackend":
        self._server = await asyncio.start_server(self._connection, self.host, self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """Stop listening and drop every open connection: the port refuses from now on."""
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.transport.abort()
            await self._server.wait_closed()
            self._server = None

    # ------------------------------------------------------------------ HTTP/1.1, by hand

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                request = await self._read_request(reader)
                if request is None:
                    return
                keep_open = await self._answer(request, writer)
                if not keep_open:
                    return
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.CancelledError):
            return  # a test server: a dropped or cancelled connection simply ends
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _read_request(self, reader: asyncio.StreamReader) -> Seen | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None
        lines = head.decode("latin-1").split("\r\n")
        verb, path, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            raw = b""
            while True:
                size = int((await reader.readline()).split(b";")[0], 16)
                chunk = await reader.readexactly(size + 2)
                if size == 0:
                    break
                raw += chunk[:-2]
        else:
            raw = await reader.readexactly(int(headers.get("content-length", "0")))
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw
        seen = Seen(verb, path, headers, body)
        self.received += 1
        self.last = seen
        if self.record:
            self.requests.append(seen)
        if isinstance(body, dict):
            self.calls[str(body.get("method"))] += 1
        return seen

    async def _answer(self, request: Seen, writer: asyncio.StreamWriter) -> bool:
        mode = self.mode
        call_id = request.body.get("id") if isinstance(request.body, dict) else None
        answer = {"id": call_id, "result": self.result_for(request.body), "error": None}
        payload = json.dumps(answer).encode()
        if mode == "slow":
            await asyncio.sleep(self.slow_seconds)
        elif mode == "reset":
            writer.transport.abort()
            return False
        elif mode == "html500":
            await self._send(writer, 500, HTML_500, "text/html; charset=utf-8")
            return True
        elif mode == "garbage":
            await self._send(writer, 200, b"\x00\xff\xfe garbage \x9c\x81<<>>" + os.urandom(64), "application/json")
            return True
        elif mode == "truncated":
            await self._send(writer, 200, payload[: len(payload) // 2], "application/json")
            return True
        elif mode == "close_mid":
            head = self._head(200, len(payload), "application/json")
            writer.write(head + payload[: len(payload) // 2])
            await writer.drain()
            writer.transport.abort()
            return False
        elif mode == "wrong_id":
            payload = json.dumps({**answer, "id": (call_id if isinstance(call_id, int) else 0) + 1000}).encode()
        await self._send(writer, 200, payload, "application/json")
        self.answered += 1
        return True

    @staticmethod
    def _head(status: int, length: int, content_type: str) -> bytes:
        reason = {200: "OK", 500: "Internal Server Error"}[status]
        return (f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {length}\r\n"
                f"Connection: keep-alive\r\n\r\n").encode()

    async def _send(self, writer: asyncio.StreamWriter, status: int, payload: bytes, content_type: str) -> None:
        writer.write(self._head(status, len(payload), content_type) + payload)
        await writer.drain()

    @staticmethod
    def result_for(body: Any) -> Any:
        """A small, plausible result; the gateway passes it through (same dialect) or reshapes it."""
        method = body.get("method") if isinstance(body, dict) else None
        return {"method": method, "ok": True}

    # ------------------------------------------------------------------ helpers for tests

    def keys_seen(self) -> list[Any]:
        """Every credential-like field the backend received, per request."""
        found = []
        for seen in self.requests:
            if isinstance(seen.body, dict):
                found.append({k: v for k, v in seen.body.items() if k not in ("id", "method", "args")})
        return found

    def reset_counts(self) -> None:
        self.requests.clear()
        self.calls.clear()
        self.received = self.answered = 0
        self.last = None


async def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (bound, then released)."""
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    return port
