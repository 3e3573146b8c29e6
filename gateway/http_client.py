"""A small keep-alive HTTP/1.1 client for one endpoint: POST a body, get (status, body).

The gateway talks to exactly one URL with one kind of request, so it does not need
a general client: this one keeps a pool of idle connections (most recently used
first), writes a request whose head is built once, and parses the answer with
httptools (llhttp, the parser Node.js uses): Content-Length, chunked and
read-until-close bodies. It costs less than half of what aiohttp's `ClientSession`
costs per call, which is most of the gateway's own overhead.

Every failure is an `HttpFault` whose text is safe to show a caller (no address,
no body); `detail` names the underlying exception for the operator's log. Nothing
is retried: a request may be a write.
"""
from __future__ import annotations

import asyncio
import base64
import collections
import errno
import ssl
from urllib.parse import unquote, urlsplit

import httptools

from . import __version__


class HttpFault(Exception):
    """The request failed; `str(fault)` is safe to show a caller."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.detail = detail


CLOSED_EARLY = "the connection was closed before the answer was complete"
CUT_OFF = "the answer was cut off before it was complete"
NOT_HTTP = "the answer is not valid HTTP"
FAILED = "the connection failed"


class KeepAliveClient:
    """POSTs to one URL over at most `max_connections` kept-alive connections."""

    def __init__(self, url: str, max_connections: int = 100, idle_timeout: float = 15.0,
                 content_type: bytes = b"application/json") -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.ssl: ssl.SSLContext | None = ssl.create_default_context() if parts.scheme == "https" else None
        default_port = self.port == (443 if self.ssl else 80)
        host_header = self.host if ":" not in self.host else f"[{self.host}]"
        if not default_port:
            host_header += f":{self.port}"
        head = [
            f"POST {parts.path or '/'}{'?' + parts.query if parts.query else ''} HTTP/1.1",
            f"Host: {host_header}",
            f"User-Agent: rcgate/{__version__}",
            f"Content-Type: {content_type.decode()}",
            "Accept: application/json",
        ]
        if parts.username is not None:  # http://user:password@host/ : HTTP basic authentication
            token = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
            head.append(f"Authorization: Basic {base64.b64encode(token).decode()}")
        self._head = ("\r\n".join(head) + "\r\nContent-Length: ").encode("latin-1")
        self.idle_timeout = idle_timeout
        self._idle: collections.deque[_Connection] = collections.deque()
        self._slots = asyncio.Semaphore(max_connections)
        self._busy: dict[_Connection, float] = {}  # connections waiting for an answer -> deadline
        self._sweeper: asyncio.TimerHandle | None = None
        self._closed = False

    async def post(self, body: bytes, timeout: float) -> tuple[int, bytes]:
        """Send one request; the answer's status and body, or TimeoutError after `timeout` seconds."""
        if self._closed:
            raise HttpFault(FAILED, "client closed")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        if self._slots.locked():  # every connection is busy: wait for one, within the same deadline
            async with asyncio.timeout_at(deadline):
                await self._slots.acquire()
        else:
            await self._slots.acquire()
        try:
            conn = self._take_idle(loop.time())
            if conn is None:
                async with asyncio.timeout_at(deadline):
                    conn = await self._connect()
            request = b"".join((self._head, str(len(body)).encode(), b"\r\n\r\n", body))
            try:
                answer = conn.exchange(request)
                self._watch(conn, deadline)
                status, data, keep_alive = await answer
            except BaseException:  # a fault, the deadline or a cancellation: this connection is done
                conn.close()
                raise
            finally:
                self._busy.pop(conn, None)
            if keep_alive and not conn.closed and not self._closed:
                conn.idle_since = now = loop.time()
                self._idle.append(conn)
                while self._idle[0].closed or now - self._idle[0].idle_since >= self.idle_timeout:
                    self._idle.popleft().close()  # the least recently used end: gone or idle too long
            else:
                conn.close()
            return status, data
        finally:
            self._slots.release()

    # A call's deadline is watched by one timer per client that ticks while calls are in
    # flight, not by a timer per call: asyncio.timeout() costs ~20 us of a ~450 us call.
    # A deadline may fire up to _TICK late.
    _TICK = 0.05

    def _watch(self, conn: _Connection, deadline: float) -> None:
        self._busy[conn] = deadline
        if self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().call_later(self._TICK, self._sweep)

    def _sweep(self) -> None:
        now = asyncio.get_running_loop().time()
        for conn in [c for c, deadline in self._busy.items() if deadline <= now]:
            conn.time_out()
        self._sweeper = asyncio.get_running_loop().call_later(self._TICK, self._sweep) if self._busy else None

    def _take_idle(self, now: float) -> _Connection | None:
        """The most recently used live connection; stale ones are closed on the way."""
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed and now - conn.idle_since < self.idle_timeout:
                return conn
            conn.close()
        return None

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            _, conn = await loop.create_connection(
                _Connection, self.host, self.port, ssl=self.ssl,
                server_hostname=self.host if self.ssl else None)
        except ConnectionRefusedError as exc:
            raise HttpFault("connection refused", type(exc).__name__) from None
        except ssl.SSLError as exc:
            raise HttpFault("the TLS handshake failed", f"{type(exc).__name__}: {exc.reason}") from None
        except OSError as exc:
            refused = exc.errno == errno.ECONNREFUSED or "refused" in str(exc).lower()
            raise HttpFault("connection refused" if refused else "cannot connect", type(exc).__name__) from None
        return conn

    async def close(self) -> None:
        self._closed = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        while self._idle:
            self._idle.pop().close()


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection; one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._waiter: asyncio.Future | None = None
        self._parser = httptools.HttpResponseParser(self)  # llhttp starts over after each complete answer
        self._body: list[bytes] = []
        self._got_bytes = False
        self._parser_started_again = False
        self._headers_done = False
        self._framed = False  # Content-Length or chunked: the parser knows where the body ends
        self._head_chunks: list[bytes] = []  # this answer's bytes until its head is parsed (see _dedupe_length)

    # -- one exchange --------------------------------------------------------------
    def exchange(self, request: bytes) -> asyncio.Future:
        """Write the request; a future for (status, body, keep_alive)."""
        if self.closed or self.transport is None:
            raise HttpFault(CLOSED_EARLY, "connection already closed")
        self._waiter = asyncio.get_running_loop().create_future()
        self._body = []
        self._head_chunks = []
        self._got_bytes = self._headers_done = self._framed = False
        self.transport.write(request)
        return self._waiter

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def time_out(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(TimeoutError())
        self.close()

    # -- asyncio.Protocol ----------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self._waiter is None or self._waiter.done():  # bytes nobody asked for: the connection is unusable
            self.close()
            return
        self._got_bytes = True
        if not self._headers_done:
            self._head_chunks.append(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(NOT_HTTP, "unexpected protocol upgrade")
        except httptools.HttpParserError as exc:
            if not self._dedupe_length(exc):
                self._fail(NOT_HTTP, f"{type(exc).__name__}: {exc}")
        if self._waiter is None and self._parser_started_again:  # more bytes after the answer
            self.close()

    def eof_received(self) -> bool:
        return False  # close the transport; connection_lost decides what the EOF meant

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        if self._headers_done and not self._framed:  # the body ran until the close: it is complete
            self._finish(keep_alive=False)
        elif self._headers_done:
            self._fail(CUT_OFF, type(exc).__name__ if exc else "EOF in the body")
        else:
            where = "in the head" if self._got_bytes else "before the answer"
            self._fail(CLOSED_EARLY, type(exc).__name__ if exc else f"EOF {where}")

    # -- httptools callbacks -------------------------------------------------------
    def on_message_begin(self) -> None:
        self._parser_started_again = self._waiter is None

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name == b"content-length" or (name == b"transfer-encoding" and b"chunked" in value.lower()):
            self._framed = True

    def on_headers_complete(self) -> None:
        self._headers_done = True
        self._head_chunks = []

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        self._framed = True  # e.g. a 204: no body, nothing to read until the close
        self._finish(keep_alive=self._parser.should_keep_alive())

    # -----------------------------------------------------------------------------
    def _dedupe_length(self, exc: Exception) -> bool:
        """RhodeCode 1.7 (waitress) sends its Content-Length twice. RFC 9112 6.3 lets a recipient take
        identical values as one: parse the answer again from its first byte with one of them."""
        if "Content-Length" not in str(exc) or not self._head_chunks:
            return False
        raw = b"".join(self._head_chunks)
        head, sep, rest = raw.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        lengths = {ln.split(b":", 1)[1].strip() for ln in lines if ln.lower().startswith(b"content-length:")}
        if not sep or len(lengths) != 1:
            return False  # different lengths: the answer's end is unknown
        seen, kept = False, []
        for ln in lines:
            if ln.lower().startswith(b"content-length:"):
                if seen:
                    continue
                seen = True
            kept.append(ln)
        self._head_chunks = []
        self._parser = httptools.HttpResponseParser(self)
        try:
            self._parser.feed_data(b"\r\n".join(kept) + sep + rest)
        except httptools.HttpParserError:
            return False
        return True

    def _finish(self, keep_alive: bool) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            status = self._parser.get_status_code()
            waiter.set_result((status, b"".join(self._body), keep_alive))

    def _fail(self, reason: str, detail: str) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(HttpFault(reason, detail))
        self.close()
